"""Secrets and patient details never reach the logs."""

import logging

import pytest

from carebook.log_filters import RedactSecrets, redact


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '127.0.0.1 "GET /booking/Xp9_token-123/details/ HTTP/1.1" 200',
            '127.0.0.1 "GET /booking/[redacted]/details/ HTTP/1.1" 200',
        ),
        (
            '"POST /pay/demo/abc-DEF_1/ HTTP/1.1" 302',
            '"POST /pay/demo/[redacted]/ HTTP/1.1" 302',
        ),
        (
            '"GET /admin/bookings/booking/?q=zoe%40example.ie HTTP/1.1" 200',
            '"GET /admin/bookings/booking/?[redacted] HTTP/1.1" 200',
        ),
        (
            "Unprocessable Entity: /booking/tok/",
            "Unprocessable Entity: /booking/[redacted]/",
        ),
        ('"GET /providers/3/ HTTP/1.1" 200', '"GET /providers/3/ HTTP/1.1" 200'),
        (
            '"POST /waitlist/offer/Ab_9-tok/ HTTP/1.1" 302',
            '"POST /waitlist/offer/[redacted]/ HTTP/1.1" 302',
        ),
        (
            '"GET /waitlist/Zy_7-tok/ HTTP/1.1" 200',
            '"GET /waitlist/[redacted]/ HTTP/1.1" 200',
        ),
        (
            '"GET /waitlist/join/3/consultation/ HTTP/1.1" 200',
            '"GET /waitlist/join/3/consultation/ HTTP/1.1" 200',
        ),
    ],
)
def test_redact_hides_tokens_and_query_strings(line, expected):
    assert redact(line) == expected


def test_filter_rewrites_a_record_with_arguments():
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "%s: %s",
        ("Not Found", "/booking/secret/"),
        None,
    )

    assert RedactSecrets().filter(record) is True
    assert record.getMessage() == "Not Found: /booking/[redacted]/"


def test_gunicorn_access_log_is_redacted():
    from carebook.gunicorn_config import logconfig_dict

    access = logconfig_dict["handlers"]["access"]
    assert access["filters"] == ["redact"]
    assert (
        logconfig_dict["filters"]["redact"]["()"]
        == "carebook.log_filters.RedactSecrets"
    )
