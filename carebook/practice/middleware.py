"""Show staff times in the practice's own zone."""

import zoneinfo

from django.utils import timezone

from carebook.practice.models import Practice


class PracticeTimezoneMiddleware:
    """Make the practice's zone the current one for each request.

    Staff pages, the admin's date filters included, then read and write
    times as the practice's wall clock. Patient pages name their zone
    explicitly and are not affected.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone_name = Practice.objects.values_list("timezone", flat=True).first()
        if zone_name:
            timezone.activate(zoneinfo.ZoneInfo(zone_name))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
