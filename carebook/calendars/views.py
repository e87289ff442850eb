"""The provider's calendar feed, read by calendar programs without a login."""

from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from carebook.calendars.feeds import build_feed, find_feed

# Calendar programs poll; five minutes keeps a new booking from lagging long.
FEED_MAX_AGE_SECONDS = 300


@require_safe
def feed(request, token):
    """Answer the feed whose secret token is in the path; 404 if none."""
    calendar_feed = find_feed(token)
    if calendar_feed is None:
        raise Http404("No such calendar feed")

    body = build_feed(calendar_feed.provider, timezone.now())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    # Private: the address is a secret, so no shared cache may keep a copy.
    response["Cache-Control"] = f"private, max-age={FEED_MAX_AGE_SECONDS}"
    return response
