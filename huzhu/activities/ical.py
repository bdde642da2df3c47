"""A volunteer's shifts as an iCalendar feed (subscribe once in any calendar app).

The feed address carries a signed token instead of a login: ``feed_token`` signs the
volunteer's id and their ``feed_key`` with ``SECRET_KEY`` (salt ``activities.ical``). The
token never expires and is the same every time, so the subscription keeps working.

One volunteer revokes their own address with ``feed_key_reset`` (the "重置日历订阅地址"
button on 我的报名): it stores a new random ``feed_key``, so the old token no longer matches
and its address answers 404, and the page shows the new address. A volunteer who has never
reset has an empty key, and their token is the id alone, exactly as before keys existed, so
addresses handed out earlier keep working until that volunteer's first reset. Changing
``SECRET_KEY`` (and leaving the old key out of ``SECRET_KEY_FALLBACKS``) still revokes every
feed address at once.

The feed tells where and when, never how to check in: the check-in code and QR secret stay
out of it, so nobody can check in from the calendar.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any

from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from icalendar import Alarm, Calendar, Event

from huzhu.activities.models import ACTIVE_SIGNUP, Signup, SignupStatus
from huzhu.common.audit import log_action
from huzhu.volunteers.models import Volunteer

SALT = "activities.ical"
PRODID = "-//Huzhu//Volunteer shifts//ZH"
CALENDAR_TIMEZONE = "Asia/Shanghai"
REMIND_BEFORE = dt.timedelta(hours=1)
# Between the id and the feed key in the signed value (``token_urlsafe`` never makes a ".").
KEY_SEP = "."
FEED_KEY_BYTES = 12  # 16 characters, within ``Volunteer.feed_key``'s 32


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT)


def feed_token(volunteer: Volunteer) -> str:
    """The volunteer's feed token: stable, no expiry, until ``feed_key_reset``."""
    value = str(volunteer.pk)
    if volunteer.feed_key:
        value += KEY_SEP + volunteer.feed_key
    return _signer().sign(value)


def volunteer_from_feed_token(token: str) -> Volunteer | None:
    """The volunteer a token was made for, or None when it is forged, altered, stale or
    revoked (made with a feed key the volunteer no longer has)."""
    try:
        value = _signer().unsign(token.strip())
    except signing.BadSignature:
        return None
    volunteer_id, _sep, key = value.partition(KEY_SEP)
    if not volunteer_id.isdigit():
        return None
    return (
        Volunteer.objects.select_related("person")
        .filter(pk=int(volunteer_id), feed_key=key)
        .first()
    )


@transaction.atomic
def feed_key_reset(*, actor: Any, volunteer: Volunteer) -> str:
    """Give ``volunteer`` a new feed key and return their new feed token; every address made
    before stops working. Only the volunteer themself (their signed-in user) may do it.
    Audited as ``activity.ical_reset`` (the key itself is never written to the log)."""
    user_id = getattr(actor, "pk", None)
    if user_id is None or volunteer.person.user_id != user_id:
        raise PermissionDenied(_("只有志愿者本人可以重置日历订阅地址。"))
    key = secrets.token_urlsafe(FEED_KEY_BYTES)
    Volunteer.objects.filter(pk=volunteer.pk).update(feed_key=key)
    volunteer.feed_key = key
    log_action(actor, "activity.ical_reset", volunteer)
    return feed_token(volunteer)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)


def _summary(signup: Signup) -> str:
    title = signup.shift.activity.title
    if signup.status == SignupStatus.WAITLISTED:
        return title + _(" [候补]")
    if signup.status == SignupStatus.PENDING:
        return title + _(" [待审核]")
    return title


def _description(signup: Signup, url: str) -> str:
    shift = signup.shift
    lines = [
        _("班次：%(name)s") % {"name": shift.name} if shift.name else "",
        _("组织单位：%(org)s") % {"org": shift.activity.org.name},
        _("报名状态：%(status)s") % {"status": signup.get_status_display()},
        _("活动详情：%(url)s") % {"url": url},
    ]
    return "\n".join(line for line in lines if line)


def _status(signup: Signup) -> str:
    if signup.shift.is_cancelled or signup.status not in ACTIVE_SIGNUP:
        return "CANCELLED"
    return "CONFIRMED" if signup.status == SignupStatus.CONFIRMED else "TENTATIVE"


def _event(signup: Signup, base_url: str) -> Event:
    shift = signup.shift
    activity = shift.activity
    url = base_url.rstrip("/") + reverse("activities:detail", args=[activity.pk])
    event = Event()
    event.add("uid", f"signup-{signup.pk}@huzhu")
    event.add("dtstamp", _utc(signup.status_changed_at))
    event.add("dtstart", _utc(shift.starts_at))
    event.add("dtend", _utc(shift.ends_at))
    event.add("summary", _summary(signup))
    event.add("location", activity.address)
    if activity.latitude is not None and activity.longitude is not None:
        event.add("geo", (float(activity.latitude), float(activity.longitude)))
    event.add("description", _description(signup, url))
    event.add("url", url)
    event.add("status", _status(signup))
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", _("活动提醒：%(title)s") % {"title": activity.title})
    alarm.add("trigger", -REMIND_BEFORE)
    event.add_component(alarm)
    return event


def shifts_calendar(*, volunteer: Volunteer, signups: Iterable[Signup], base_url: str) -> bytes:
    """The calendar of ``signups`` (from ``selectors.ical_signups``, with
    ``shift__activity__org`` loaded); ``base_url`` is the site's public address."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _("互助志愿服务"))
    calendar.add("x-wr-timezone", CALENDAR_TIMEZONE)
    for signup in signups:
        if signup.volunteer_id != volunteer.pk:
            continue  # a feed only ever shows its own volunteer's shifts
        calendar.add_component(_event(signup, base_url))
    return calendar.to_ical()
