"""Keep secrets and patient details out of the logs."""

import logging
import re

# Path segments that are secrets: the tokens of a booking, a checkout, a
# provider's calendar feed, a place on the waitlist and a waitlist offer.
SECRET_PATH = re.compile(
    r"(/booking/|/pay/[a-z]+/|/calendars/feed/|/waitlist/offer/"
    r"|/waitlist/(?!join/|offer/))[^/\s?\"]+"
)
# Query strings can carry what staff searched for: names, emails, phones.
QUERY_STRING = re.compile(r"\?[^\s\"]*")


def redact(text: str) -> str:
    """Return `text` with secret path segments and query strings hidden."""
    text = SECRET_PATH.sub(r"\1[redacted]", text)
    return QUERY_STRING.sub("?[redacted]", text)


class RedactSecrets(logging.Filter):
    """Rewrite each record's message with its secrets hidden.

    Fit for request and access logs, whose messages carry the request path.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True
