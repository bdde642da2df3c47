"""What volunteers are told about their shifts, hours and certificates (through ``notify``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.services import notify, notify_many

if TYPE_CHECKING:
    from huzhu.activities.models import Certificate, ServiceRecord, Shift, Signup


def _user(signup: Signup):
    person = signup.volunteer.person
    return getattr(person, "user", None)


def _when(shift: Shift) -> str:
    start = timezone.localtime(shift.starts_at)
    end = timezone.localtime(shift.ends_at)
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"


def _shift_url(shift: Shift) -> str:
    return reverse("activities:detail", args=[shift.activity_id])


def signup_received(*, signup: Signup) -> None:
    from huzhu.activities.models import SignupStatus

    shift = signup.shift
    titles = {
        SignupStatus.CONFIRMED: _("报名成功：%(title)s"),
        SignupStatus.PENDING: _("报名已提交，等待审核：%(title)s"),
        SignupStatus.WAITLISTED: _("名额已满，您已进入候补：%(title)s"),
    }
    notify(
        user=_user(signup),
        kind="activity.signup",
        title=titles[signup.status] % {"title": shift.activity.title},
        body=_("班次：%(when)s，地点：%(place)s。")
        % {"when": _when(shift), "place": shift.activity.address},
        url=_shift_url(shift),
    )


def signup_decided(*, signup: Signup) -> None:
    from huzhu.activities.models import SignupStatus

    shift = signup.shift
    if signup.status == SignupStatus.REJECTED:
        title = _("报名未通过：%(title)s")
    elif signup.status == SignupStatus.WAITLISTED:
        title = _("报名已通过审核，名额已满，您已进入候补：%(title)s")
    else:
        title = _("报名已通过审核：%(title)s")
    notify(
        user=_user(signup),
        kind="activity.signup",
        title=title % {"title": shift.activity.title},
        body=signup.note if signup.status == SignupStatus.REJECTED else _when(shift),
        url=_shift_url(shift),
    )


def waitlist_promoted(*, signup: Signup) -> None:
    shift = signup.shift
    notify(
        user=_user(signup),
        kind="activity.promoted",
        title=_("候补转正：您已报名成功“%(title)s”") % {"title": shift.activity.title},
        body=_("有人取消了报名，您从候补转为报名成功。班次：%(when)s。") % {"when": _when(shift)},
        url=_shift_url(shift),
    )


def shift_reminder(*, signup: Signup) -> None:
    shift = signup.shift
    notify(
        user=_user(signup),
        kind="activity.reminder",
        title=_("活动提醒：%(title)s") % {"title": shift.activity.title},
        body=_("班次：%(when)s，地点：%(place)s。请按时到场并扫码签到。")
        % {"when": _when(shift), "place": shift.activity.address},
        url=_shift_url(shift),
        dedupe_key=f"shift-reminder:{shift.pk}",
    )


def shift_cancelled(*, signup: Signup, shift: Shift, reason: str) -> None:
    notify(
        user=_user(signup),
        kind="activity.cancelled",
        title=_("班次已取消：%(title)s") % {"title": shift.activity.title},
        body=_("%(when)s 的班次已取消。原因：%(reason)s")
        % {"when": _when(shift), "reason": reason},
        url=_shift_url(shift),
    )


def hours_confirmed(*, records: Iterable[ServiceRecord], users: dict[int, int | None]) -> None:
    """One message per confirmed record, in one insert. ``users`` maps volunteer id to
    their login's id (volunteers without a login are skipped)."""
    url = reverse("activities:my_hours")
    notify_many(
        [
            {
                "user_id": users.get(record.volunteer_id),
                "kind": "activity.hours",
                "title": _("服务时长已确认：%(hours)s 小时") % {"hours": record.hours},
                "body": f"{record.served_on} {record.content}",
                "url": url,
            }
            for record in records
        ]
    )


def certificate_decided(*, certificate: Certificate) -> None:
    person = certificate.volunteer.person
    notify(
        user=getattr(person, "user", None),
        kind="activity.certificate",
        title=_("志愿服务证明：%(status)s") % {"status": certificate.get_status_display()},
        body=certificate.decision_reason or (certificate.number or ""),
        url=reverse("activities:my_certificates"),
    )
