"""Show staff times in the practice's own zone."""

import zoneinfo

from django.utils import timezone

from carebook.practice.models import Practice


class PracticeTimezoneMiddleware:
    """Make the practice's zone the current one for staff requests.

    Staff pages, the admin's date filters included, then read and write
    times as the practice's wall clock. Patient pages and the API name their
    zones explicitly and pay no query for this.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_staff:
            zone_name = Practice.objects.values_list("timezone", flat=True).first()
            if zone_name:
                timezone.activate(zoneinfo.ZoneInfo(zone_name))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
