"""Periodic jobs, run by ``huzhu runperiodic`` from cron or a loop (DESIGN.md §5).

An app registers a job in its ``periodic.py`` with ``@periodic_job("name")``. Every job must
be idempotent: running it twice in a row changes nothing the second time. A job receives
today's date and returns a one-line summary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from importlib import import_module

from django.apps import apps

Job = Callable[[dt.date], str]
JOBS: dict[str, Job] = {}


def periodic_job(name: str) -> Callable[[Job], Job]:
    def register(func: Job) -> Job:
        JOBS[name] = func
        return func

    return register


def discover() -> dict[str, Job]:
    for config in apps.get_app_configs():
        if config.name.startswith("huzhu."):
            try:
                import_module(f"{config.name}.periodic")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.periodic":
                    raise
    return JOBS
