// Draws the dashboard's charts with plotly.js from the figures in the page.
// The tables beside each chart hold the same numbers without JavaScript.
(function () {
  "use strict";

  const layout = (title, extra) =>
    Object.assign(
      {
        title: { text: title, font: { size: 14 } },
        margin: { t: 40, r: 10, b: 60, l: 50 },
        height: 300,
        legend: { orientation: "h" },
      },
      extra || {}
    );
  const config = { displaylogo: false, responsive: true };

  function draw(id, traces, title, extra) {
    const element = document.getElementById(id);
    if (element) {
      Plotly.newPlot(element, traces, layout(title, extra), config);
    }
  }

  // Days are categories, one per local day: as dates, plotly would spread a
  // single day over hours of its own.
  const dayAxis = { xaxis: { type: "category" } };

  // Counts are whole numbers: no ticks between 0 and 1.
  const countAxis = (values) => (Math.max(0, ...values) < 10 ? { dtick: 1 } : {});

  function horizontalBars(id, series, title, isCount) {
    draw(
      id,
      [{
        type: "bar",
        orientation: "h",
        x: series.values.slice().reverse(),
        y: series.names.slice().reverse(),
      }],
      title,
      {
        margin: { t: 40, r: 10, b: 40, l: 160 },
        xaxis: isCount ? countAxis(series.values) : {},
      }
    );
  }

  document.addEventListener("DOMContentLoaded", function () {
    const source = document.getElementById("chart-data");
    if (!source || typeof Plotly === "undefined") {
      return;
    }
    const data = JSON.parse(source.textContent);

    const statusTraces = Object.entries(data.appointments).map(([status, counts]) => ({
      type: "bar",
      name: "appointments " + status.replace("_", "-"),
      x: data.days,
      y: counts,
    }));
    draw(
      "chart-days",
      [
        ...statusTraces,
        { type: "scatter", mode: "lines+markers", name: "made", x: data.days, y: data.made },
      ],
      "Bookings made and appointments, by day",
      Object.assign({ barmode: "stack" }, dayAxis)
    );

    draw(
      "chart-revenue",
      Object.entries(data.revenue).map(([currency, values]) => ({
        type: "bar",
        name: currency,
        x: data.days,
        y: values,
      })),
      "Net revenue by day",
      dayAxis
    );

    horizontalBars(
      "chart-providers-bookings", data.providers_by_bookings, "Providers by bookings", true
    );
    horizontalBars(
      "chart-providers-revenue",
      data.providers_by_revenue,
      "Providers by net revenue" +
        (data.providers_by_revenue.currency ? " (" + data.providers_by_revenue.currency + ")" : "")
    );
    draw(
      "chart-types",
      [{ type: "pie", labels: data.appointment_types.names, values: data.appointment_types.values }],
      "Appointment types"
    );
    horizontalBars("chart-declines", data.declines, "Declines by reason", true);
  });
})();
