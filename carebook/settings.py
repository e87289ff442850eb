"""Carebook settings, every one read from the environment.

With nothing set, Carebook runs on one machine: SQLite files under `var/`, a
generated secret key kept there, mail printed to the console and payments
through the demo gateway. See docs/configuration.md for every variable.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from dotenv import load_dotenv

from carebook.env import env_bool, env_int, env_list, env_str, parse_email_url

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")

VAR_DIR = Path(env_str("CAREBOOK_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """Return SECRET_KEY, or one generated once and kept under var/."""
    key = env_str("SECRET_KEY")
    if key:
        return key

    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "huey.contrib.djhuey",
    "carebook.audit",
    "carebook.practice",
    "carebook.bookings",
    "carebook.payments",
    "carebook.notifications",
    "carebook.calendars",
    "carebook.waitlist",
    # After every app whose permissions its role groups hand out.
    "carebook.staff",
    "carebook.analytics",
    "carebook.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "carebook.practice.middleware.PracticeTimezoneMiddleware",
]

ROOT_URLCONF = "carebook.urls"
WSGI_APPLICATION = "carebook.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "carebook.web.context_processors.patient_locale",
            ],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL names another.
SQLITE_OPTIONS = {
    # IMMEDIATE takes the write lock when a transaction starts, so two
    # bookings queue behind each other instead of failing at commit.
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
    ),
}
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'carebook.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
        conn_health_checks=True,
    )
}
# Each test run gets databases of its own, so two runs never share one.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
    # A file, not memory, so tests that book from many threads share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_carebook_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The dashboard's covering indexes carry extra columns on PostgreSQL; SQLite
# builds the same indexes without them, which is all it needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
# Languages patients read their pages and emails in.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "carebook" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.js for the dashboard's charts, from the plotly package.
    "carebook.analytics.staticfiles.PlotlyFinder",
]
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "admin:login"

# Cache and jobs: in-process and SQLite by default, Redis when REDIS_URL is set.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": env_str("HUEY_NAME", "carebook"),
        "url": REDIS_URL,
        "immediate": False,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": env_str("HUEY_NAME", "carebook"),
        "filename": str(VAR_DIR / "jobs.sqlite3"),
        "immediate": False,
    }
HUEY["consumer"] = {"workers": env_int("HUEY_WORKERS", 2, minimum=1)}

# Email: an SMTP server from EMAIL_URL, or the console when it is unset.
EMAIL_URL = env_str("EMAIL_URL")
if EMAIL_URL:
    globals().update(parse_email_url("EMAIL_URL", EMAIL_URL))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("EMAIL_FROM", "Carebook <bookings@localhost>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "carebook.log_filters.RedactSecrets"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        # Django's request and security logs name the path, which may hold
        # a token.
        "requests": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        },
    },
    "loggers": {
        "django.request": {"handlers": ["requests"], "propagate": False},
        "django.server": {"handlers": ["requests"], "propagate": False},
        "django.security": {"handlers": ["requests"], "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Carebook's own settings.
CAREBOOK_BASE_URL = env_str("CAREBOOK_BASE_URL", "http://127.0.0.1:8000")
CAREBOOK_HOLD_MINUTES = env_int("CAREBOOK_HOLD_MINUTES", 10, minimum=1)
CAREBOOK_PAYMENT_MINUTES = env_int("CAREBOOK_PAYMENT_MINUTES", 30, minimum=1)
CAREBOOK_REMINDER_HOURS = env_int("CAREBOOK_REMINDER_HOURS", 24, minimum=1)
# How long a time that came free is held for the first patient on the
# waitlist before the next in line is offered it.
CAREBOOK_WAITLIST_CLAIM_MINUTES = env_int(
    "CAREBOOK_WAITLIST_CLAIM_MINUTES", 60, minimum=5
)
# How long a worker may take to send one email before another may retry it.
CAREBOOK_OUTBOX_LEASE_SECONDS = env_int("CAREBOOK_OUTBOX_LEASE_SECONDS", 120, minimum=1)
# Retries of a temporary failure before the message is given up as failed.
CAREBOOK_OUTBOX_MAX_ATTEMPTS = env_int("CAREBOOK_OUTBOX_MAX_ATTEMPTS", 15, minimum=1)

# Payments: Stripe when a secret key is set, the demo gateway otherwise.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
# Another address for Stripe's API, for a local stand-in during tests.
STRIPE_API_BASE = env_str("STRIPE_API_BASE")

# Encrypts stored calendar passwords; SECRET_KEY when unset.
CAREBOOK_ENCRYPTION_KEY = env_str("CAREBOOK_ENCRYPTION_KEY")
