"""The owner's dashboard, a provider's own figures, and their CSV exports."""

from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from carebook.analytics import charts
from carebook.analytics.exports import FIGURE_TABLES, booking_rows, write_rows
from carebook.analytics.figures import compute_figures
from carebook.analytics.forms import FigureFilterForm
from carebook.practice.models import Practice
from carebook.staff.models import Role
from carebook.staff.roles import check_practice_figures, figures_provider_for, role_of


@login_required
def dashboard(request):
    check_practice_figures(request.user)
    form = _filter_form(request)
    provider = form.cleaned_data.get("provider") if form.is_valid() else None
    return _render_figures(request, form, provider.pk if provider else None)


@login_required
def my_figures(request):
    if role_of(request.user) == Role.OWNER:
        return redirect("analytics:dashboard")
    provider_id = figures_provider_for(request.user, None)
    return _render_figures(request, _filter_form(request), provider_id)


@login_required
def export(request, table: str):
    check_practice_figures(request.user)
    if table != "bookings" and table not in FIGURE_TABLES:
        raise Http404("No such table.")
    form = _filter_form(request)
    if not form.is_valid():
        errors = "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in form.errors.items()
        )
        return HttpResponse(errors, status=400, content_type="text/plain")

    provider = form.cleaned_data["provider"]
    figure_filter = form.figure_filter(provider.pk if provider else None)
    if table == "bookings":
        rows = booking_rows(figure_filter)
    else:
        rows = FIGURE_TABLES[table](compute_figures(figure_filter))
    response = StreamingHttpResponse(
        write_rows(rows), content_type="text/csv; charset=utf-8"
    )
    name = f"carebook-{table}-{figure_filter.start}-{figure_filter.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _practice() -> Practice:
    practice = Practice.objects.first()
    if practice is None:
        raise Http404("No practice is loaded yet.")
    return practice


def _filter_form(request) -> FigureFilterForm:
    practice = _practice()
    today = timezone.now().astimezone(ZoneInfo(practice.timezone)).date()
    return FigureFilterForm(request.GET, practice, today)


def _render_figures(request, form: FigureFilterForm, provider_id: int | None):
    """Render the figures page, or the form's errors with a 400."""
    context = {
        "practice": form.practice,
        "form": form,
        "is_owner": role_of(request.user) == Role.OWNER,
    }
    if not form.is_valid():
        return render(request, "analytics/dashboard.html", context, status=400)

    figures = compute_figures(form.figure_filter(provider_id))
    context |= {
        "figures": figures,
        "chart_data": charts.chart_data(figures),
        "query": request.GET.urlencode(),
    }
    return render(request, "analytics/dashboard.html", context)
