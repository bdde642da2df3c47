"""Huzhu settings: one file, driven by ``HUZHU_*`` environment variables.

SQLite under ``var/`` is the default database; ``DATABASE_URL`` selects PostgreSQL.
See docs/operations.md for every variable.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HUZHU_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("HUZHU_DEBUG", False)
SECRET_KEY = os.environ.get("HUZHU_SECRET_KEY", "huzhu-insecure-development-key-change-me")
ALLOWED_HOSTS = env_list("HUZHU_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("HUZHU_CSRF_TRUSTED_ORIGINS")


def _dev_key(purpose: str) -> str:
    """Derive a development-only key from SECRET_KEY (production sets the HUZHU_* keys)."""
    import base64

    digest = hashlib.sha256(f"{purpose}:{SECRET_KEY}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


# Personal data at rest (DESIGN.md §3). The first Fernet key encrypts; all keys decrypt,
# so a new key can be put first and `huzhu rotate-keys` re-encrypts every value.
HUZHU_FERNET_KEYS = env_list("HUZHU_FERNET_KEYS") or [_dev_key("fernet")]
HUZHU_HASH_KEY = os.environ.get("HUZHU_HASH_KEY") or _dev_key("hmac")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "huzhu.common",
    "huzhu.orgs",
    "huzhu.people",
    "huzhu.volunteers",
    "huzhu.activities",
    "huzhu.timebank",
    "huzhu.needs",
    "huzhu.desk",
    "huzhu.api",
    "huzhu.web",
    "huzhu.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "huzhu.orgs.middleware.ScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "huzhu.urls"
WSGI_APPLICATION = "huzhu.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "huzhu.web.context_processors.navigation",
            ],
        },
    },
]

_default_sqlite = f"sqlite:///{VAR_DIR / 'huzhu.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or os.environ.get("HUZHU_DATABASE_URL") or _default_sqlite,
        conn_max_age=int(os.environ.get("HUZHU_DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("HUZHU_TEST_SQLITE") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "huzhu" / "locale"]
TIME_ZONE = os.environ.get("HUZHU_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from here after collectstatic
# Front-end packages come from the npm registry at build time (`make install`), never a CDN.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", NODE_MODULES / "bootstrap-icons" / "font"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/echarts", NODE_MODULES / "echarts" / "dist"),
]
STATICFILES_DIRS = [(prefix, path) for prefix, path in STATICFILES_DIRS if path.exists()]
WHITENOISE_USE_FINDERS = True

MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("HUZHU_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Domain settings with the defaults of DOMAIN.md; each is configurable per deployment.
HUZHU_ELDERLY_AGE = int(os.environ.get("HUZHU_ELDERLY_AGE", "60"))  # 老年人 = 60+
# Star volunteers: recorded hours for one to five stars, and the publicity period.
HUZHU_STAR_THRESHOLDS_HOURS = [
    int(h) for h in env_list("HUZHU_STAR_THRESHOLDS_HOURS", "100,300,600,1000,1500")
]
HUZHU_STAR_PUBLICITY_WORKDAYS = int(os.environ.get("HUZHU_STAR_PUBLICITY_WORKDAYS", "5"))
# Falsified hours bar a volunteer from star recognition for this many months.
HUZHU_STAR_BAR_MONTHS = int(os.environ.get("HUZHU_STAR_BAR_MONTHS", "24"))
# Days before a qualification expires when its holder and their workers are reminded.
HUZHU_QUALIFICATION_REMIND_DAYS = int(os.environ.get("HUZHU_QUALIFICATION_REMIND_DAYS", "30"))

# Activities: a volunteer with this many no-shows within the window may not sign up for
# shifts for the block period (0 turns the consequence off).
HUZHU_NO_SHOW_LIMIT = int(os.environ.get("HUZHU_NO_SHOW_LIMIT", "3"))
HUZHU_NO_SHOW_WINDOW_DAYS = int(os.environ.get("HUZHU_NO_SHOW_WINDOW_DAYS", "90"))
HUZHU_NO_SHOW_BLOCK_DAYS = int(os.environ.get("HUZHU_NO_SHOW_BLOCK_DAYS", "30"))
# Hours before a shift when signed-up volunteers are reminded.
HUZHU_SHIFT_REMINDER_HOURS = int(os.environ.get("HUZHU_SHIFT_REMINDER_HOURS", "24"))
# How far ahead recurring activities get their shifts created.
HUZHU_RECURRING_HORIZON_DAYS = int(os.environ.get("HUZHU_RECURRING_HORIZON_DAYS", "28"))
# The public address printed in certificate QR codes and links in notifications.
HUZHU_PUBLIC_URL = os.environ.get("HUZHU_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Notification channels besides the in-app inbox (dotted paths; see docs/operations.md).
HUZHU_NOTIFY_CHANNELS = env_list("HUZHU_NOTIFY_CHANNELS", "huzhu.common.channels.ConsoleChannel")

# Needs and matching: how far a volunteer is asked to go, how far back workload counts, how
# many volunteers an urgent broadcast reaches, and when a 结对 pair counts as quiet.
HUZHU_MATCH_RADIUS_KM = float(os.environ.get("HUZHU_MATCH_RADIUS_KM", "5"))
HUZHU_MATCH_LOAD_DAYS = int(os.environ.get("HUZHU_MATCH_LOAD_DAYS", "30"))
HUZHU_MATCH_BROADCAST_TOP = int(os.environ.get("HUZHU_MATCH_BROADCAST_TOP", "5"))

# Service desk (docs/desk.md): submissions per source, photos, escalation of overdue work.
HUZHU_DESK_RATE_PER_HOUR = int(os.environ.get("HUZHU_DESK_RATE_PER_HOUR", "5"))
HUZHU_DESK_RATE_PER_DAY = int(os.environ.get("HUZHU_DESK_RATE_PER_DAY", "20"))
HUZHU_DESK_PHOTO_MAX_BYTES = int(os.environ.get("HUZHU_DESK_PHOTO_MAX_BYTES", "10485760"))
HUZHU_DESK_PHOTO_MAX_PX = int(os.environ.get("HUZHU_DESK_PHOTO_MAX_PX", "1600"))
HUZHU_DESK_PHOTO_MAX_COUNT = int(os.environ.get("HUZHU_DESK_PHOTO_MAX_COUNT", "4"))
# Working days a team may still return an assigned ticket (DOMAIN.md §6: ≤ 2).
HUZHU_DESK_RETURN_DAYS = int(os.environ.get("HUZHU_DESK_RETURN_DAYS", "2"))
HUZHU_DESK_EXTENSION_MAX_DAYS = int(os.environ.get("HUZHU_DESK_EXTENSION_MAX_DAYS", "10"))
# Overdue work goes to the street at once, and to the district after this many more days.
HUZHU_DESK_DISTRICT_AFTER_DAYS = int(os.environ.get("HUZHU_DESK_DISTRICT_AFTER_DAYS", "2"))
HUZHU_OPEN311_RATE_PER_HOUR = int(os.environ.get("HUZHU_OPEN311_RATE_PER_HOUR", "120"))
HUZHU_PAIRING_VISIT_DAYS = int(os.environ.get("HUZHU_PAIRING_VISIT_DAYS", "30"))

# Time bank defaults (DOMAIN.md §5); each can be overridden per org subtree (时间银行规则).
HUZHU_TIMEBANK_CREDIT_LIMIT_MINUTES = int(
    os.environ.get("HUZHU_TIMEBANK_CREDIT_LIMIT_MINUTES", "0")
)
HUZHU_TIMEBANK_BALANCE_CAP_MINUTES = int(
    os.environ.get("HUZHU_TIMEBANK_BALANCE_CAP_MINUTES", str(1500 * 60))
)
HUZHU_TIMEBANK_MIN_REDEEM_AGE = int(os.environ.get("HUZHU_TIMEBANK_MIN_REDEEM_AGE", "0"))
HUZHU_TIMEBANK_FAMILY_INCLUDES_FRIENDS = env_bool("HUZHU_TIMEBANK_FAMILY_INCLUDES_FRIENDS", False)
HUZHU_TIMEBANK_EXPIRY_MONTHS = int(os.environ.get("HUZHU_TIMEBANK_EXPIRY_MONTHS", "0"))
HUZHU_TIMEBANK_EXCHANGE_SCOPE = os.environ.get("HUZHU_TIMEBANK_EXCHANGE_SCOPE", "city")

NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 500

EMAIL_BACKEND = os.environ.get(
    "HUZHU_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)

LOG_FILE = os.environ.get("HUZHU_LOG_FILE", "")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"pii": {"()": "huzhu.common.logging.PersonalDataFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["pii"],
            "formatter": "plain",
        },
        **(
            {
                "file": {
                    "class": "logging.FileHandler",
                    "filename": LOG_FILE,
                    "filters": ["pii"],
                    "formatter": "plain",
                }
            }
            if LOG_FILE
            else {}
        ),
    },
    # Django's own loggers lose their default handlers (which bypass the filter) and
    # propagate to the root, so request lines and error reports are masked too.
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
    },
    "root": {
        "handlers": ["console", *(["file"] if LOG_FILE else [])],
        "level": os.environ.get("HUZHU_LOG_LEVEL", "INFO"),
    },
}
