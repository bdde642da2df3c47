"""Periodic jobs of the needs exchange, run by ``huzhu runperiodic`` (idempotent)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from huzhu.common.models import Counter
from huzhu.common.periodic import periodic_job
from huzhu.needs.pairing_services import quiet_pairings_remind
from huzhu.needs.profiles import profiles_refresh

PROFILES_REBUILT_ON = "needs.match_profiles.day"


@periodic_job("needs.match_profiles")
def match_profiles(today: dt.date) -> str:
    """Rebuild every volunteer's matching profile once a day: recent load, no-shows and
    ratings move with the calendar even when nothing else changes. (Changes to a volunteer
    refresh their own rows at once; this catches the rest.) A later run on the same day does
    nothing."""
    done = Counter.objects.filter(name=PROFILES_REBUILT_ON).values_list("value", flat=True)
    if done and done[0] >= today.toordinal():
        return _("匹配画像：今日已更新")
    rows = profiles_refresh(today=today)
    Counter.objects.update_or_create(
        name=PROFILES_REBUILT_ON, defaults={"value": today.toordinal()}
    )
    return _("匹配画像：%(n)d 行") % {"n": rows}


@periodic_job("needs.quiet_pairings")
def quiet_pairings(today: dt.date) -> str:
    """Remind helpers and workers of 结对 pairs not visited within their cycle."""
    return _("结对走访提醒：%(n)d 对") % {"n": quiet_pairings_remind(today=today)}
