"""Settings for the PII test's subprocesses: the real settings, plus every SQL statement
(with its parameters) logged at DEBUG, so the log file sees everything written."""

from huzhu.settings import *  # noqa: F403
from huzhu.settings import LOGGING

LOGGING["loggers"] = {
    **LOGGING.get("loggers", {}),
    "django.db.backends": {"level": "DEBUG"},
    "huzhu": {"level": "DEBUG"},
}
