"""Periodic jobs of the service desk, run by ``huzhu runperiodic`` (idempotent)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from huzhu.common.periodic import periodic_job
from huzhu.desk.services import tickets_escalate


@periodic_job("desk.escalate")
def escalate(today: dt.date) -> str:
    """分级督办: raise overdue tickets to the street, then the district."""
    return _("工单督办：%(n)d 件升级") % {"n": tickets_escalate(today=today)}
