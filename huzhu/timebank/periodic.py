"""Periodic time-bank work (``huzhu runperiodic``): credit expiry where the rules ask for it."""

from __future__ import annotations

import datetime as dt

from huzhu.common.periodic import periodic_job
from huzhu.timebank.services import expire_credits


@periodic_job("timebank.expiry")
def expiry(today: dt.date) -> str:
    """Idempotent: one ``expire`` transfer per account and day at most."""
    return f"{expire_credits(today=today)} 个账户有时间币到期"
