// Show times in the patient's own zone the first time the slot picker opens.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-auto-zone]");
  if (!form || !window.Intl) return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  var select = form.querySelector("select[name=tz]");
  if (!zone || !select || select.value === zone) return;
  if (!select.querySelector('option[value="' + zone + '"]')) return;
  select.value = zone;
  select.dispatchEvent(new Event("change", { bubbles: true }));
});
