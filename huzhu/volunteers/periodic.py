"""Periodic jobs of the volunteers app, run by ``huzhu runperiodic`` (common.periodic).

Each job is a thin, idempotent call into a service; add new jobs below in the same shape.
"""

from __future__ import annotations

import datetime as dt

from huzhu.common.periodic import periodic_job
from huzhu.volunteers import archive_services


@periodic_job("volunteers.star_publicity_ended")
def star_publicity_ended(today: dt.date) -> str:
    """Remind the community's workers of star applications whose publicity has ended."""
    return archive_services.star_publicity_ended_notify(today=today)


@periodic_job("volunteers.qualification_reminders")
def qualification_reminders(today: dt.date) -> str:
    """Remind volunteers whose certificates (急救证 …) expire soon; once per expiry date."""
    from huzhu.volunteers.training_services import qualification_reminders as remind

    sent, without_login = remind(today=today)
    return f"资格证书到期提醒：已发送 {sent} 条，无登录账号 {without_login} 人"
