import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from huzhu.activities.models import Activity, ActivityStatus, Attendance, Shift, SignupStatus
from huzhu.activities.services import (
    ActivityInput,
    ShiftInput,
    activity_create,
    activity_set_status,
    shift_add,
    shift_cancel,
    signup_create,
)
from huzhu.common.models import AuditEntry, Notification
from tests.activities.factories import (
    SYSTEM,
    attend,
    category,
    first_shift,
    make_activity,
    make_volunteer,
)

pytestmark = pytest.mark.django_db


def run(job: str, day: dt.date | None = None) -> str:
    out = StringIO()
    args = ["runperiodic", "--only", job]
    if day is not None:
        args += ["--date", day.isoformat()]
    call_command(*args, stdout=out)
    return out.getvalue()


def minute(delta: dt.timedelta) -> dt.datetime:
    return (timezone.localtime() + delta).replace(second=0, microsecond=0)


def test_jobs_are_registered():
    out = StringIO()
    call_command("runperiodic", "--list", stdout=out)
    names = out.getvalue().split()
    assert {
        "activities.no_shows",
        "activities.recurring_shifts",
        "activities.shift_reminders",
        "activities.status",
    } <= set(names)


# --- reminders -----------------------------------------------------------------------------


def test_shift_reminders_go_once_to_the_confirmed(city, django_capture_on_commit_callbacks):
    soon = make_activity(city.community_a, title="助老送餐", start=minute(dt.timedelta(hours=3)))
    shift = first_shift(soon)
    shift.capacity = 2
    shift.save(update_fields=["capacity"])
    with_login = make_volunteer(city.grid_a, "王一", username="wang-yi")
    without_login = make_volunteer(city.grid_a, "王二")
    waiting = make_volunteer(city.grid_a, "王三", username="wang-san")
    for volunteer in (with_login, without_login, waiting):
        signup_create(actor=None, volunteer=volunteer, shift_id=shift.pk)
    later = make_activity(
        city.community_a, title="晚些的活动", start=minute(dt.timedelta(hours=30))
    )
    cancelled = make_activity(
        city.community_a, title="取消的班次", start=minute(dt.timedelta(hours=5))
    )
    unpublished = make_activity(
        city.community_a,
        title="未发布的活动",
        start=minute(dt.timedelta(hours=6)),
        publish=False,
    )
    other = make_volunteer(city.grid_a, "李四", username="li-si")
    for activity in (later, cancelled):
        signup_create(actor=None, volunteer=other, shift_id=first_shift(activity).pk)
    shift_cancel(actor=None, scope=SYSTEM, shift=first_shift(cancelled), reason="天气原因")
    Notification.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        out = run("activities.shift_reminders")

    assert out == "activities.shift_reminders: 班次提醒：1 个班次，提醒 2 人次\n"
    assert len(callbacks) == 1  # one message handed to the channels, after commit
    note = Notification.objects.get()
    assert (note.user.username, note.kind, note.title) == (
        "wang-yi",
        "activity.reminder",
        "活动提醒：助老送餐",
    )
    assert note.dedupe_key == f"shift-reminder:{shift.pk}"
    assert note.url == f"/activities/{soon.pk}/"
    shift.refresh_from_db()
    assert shift.reminded_at is not None
    not_reminded = [first_shift(a).reminded_at for a in (later, cancelled, unpublished)]
    assert not_reminded == [None] * 3

    reminded_at = shift.reminded_at
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = run("activities.shift_reminders")

    assert again == "activities.shift_reminders: 班次提醒：0 个班次，提醒 0 人次\n"
    assert callbacks == []
    assert Notification.objects.count() == 1
    shift.refresh_from_db()
    assert shift.reminded_at == reminded_at


def test_reminder_window_follows_the_setting(city, settings):
    settings.HUZHU_SHIFT_REMINDER_HOURS = 2
    activity = make_activity(city.community_a, start=minute(dt.timedelta(hours=3)))
    volunteer = make_volunteer(city.grid_a, "王一", username="wang-yi")
    signup_create(actor=None, volunteer=volunteer, shift_id=first_shift(activity).pk)

    assert run("activities.shift_reminders").endswith("0 个班次，提醒 0 人次\n")

    settings.HUZHU_SHIFT_REMINDER_HOURS = 4
    assert run("activities.shift_reminders").endswith("1 个班次，提醒 1 人次\n")


# --- no-shows ------------------------------------------------------------------------------


def _past_shift(city, title: str, start: dt.datetime, *volunteers):
    """A shift that has started, with the volunteers signed up the day before."""
    activity = make_activity(city.community_a, title=title, start=start, capacity=2)
    shift = first_shift(activity)
    signups = [
        signup_create(actor=None, volunteer=v, shift_id=shift.pk, now=start - dt.timedelta(days=1))
        for v in volunteers
    ]
    return shift, signups


def test_no_shows_marked_once_after_the_checkout_window(city):
    came, absent, waiting = (make_volunteer(city.grid_a, n) for n in ("王一", "王二", "王三"))
    closed, (came_s, absent_s, waiting_s) = _past_shift(
        city, "两天前", minute(-dt.timedelta(days=2)), came, absent, waiting
    )
    attend(
        came,
        closed,
        closed.starts_at + dt.timedelta(minutes=1),
        closed.starts_at + dt.timedelta(hours=2),
    )
    assert waiting_s.status == SignupStatus.WAITLISTED
    old_absent = make_volunteer(city.grid_a, "李一")
    _old, (old_s,) = _past_shift(city, "二十天前", minute(-dt.timedelta(days=20)), old_absent)
    open_absent = make_volunteer(city.grid_a, "李二")
    _open, (open_s,) = _past_shift(city, "刚结束", minute(-dt.timedelta(hours=4)), open_absent)

    out = run("activities.no_shows")

    assert out == "activities.no_shows: 缺席标记：1 个班次，1 人\n"
    for signup in (came_s, absent_s, waiting_s, old_s, open_s):
        signup.refresh_from_db()
    assert [s.attendance for s in (came_s, absent_s, waiting_s, old_s, open_s)] == [
        Attendance.PRESENT,
        Attendance.NO_SHOW,
        Attendance.NONE,
        Attendance.NONE,
        Attendance.NONE,
    ]
    entries = AuditEntry.objects.filter(verb="attendance.no_show")
    assert [(e.target_id, e.data) for e in entries] == [(str(closed.pk), {"count": 1})]
    changed_at = absent_s.status_changed_at

    assert run("activities.no_shows") == "activities.no_shows: 缺席标记：0 个班次，0 人\n"
    absent_s.refresh_from_db()
    assert absent_s.status_changed_at == changed_at
    assert AuditEntry.objects.filter(verb="attendance.no_show").count() == 1


# --- recurring shifts ----------------------------------------------------------------------


def _recurring(city, title: str) -> Activity:
    today = timezone.localdate()
    return activity_create(
        actor=None,
        scope=SYSTEM,
        org=city.community_a,
        data=ActivityInput(
            title=title,
            category=category(),
            address="甲社区活动室",
            starts_on=today,
            ends_on=today + dt.timedelta(days=60),
            recur_weekdays=0b1111111,
            recur_start=dt.time(9, 0),
            recur_end=dt.time(11, 0),
            recur_capacity=5,
            recur_skip_holidays=False,
        ),
    )


def test_recurring_shifts_extended_up_to_the_horizon(city, settings):
    settings.HUZHU_RECURRING_HORIZON_DAYS = 7
    today = timezone.localdate()
    running = _recurring(city, "每日助餐")
    activity_set_status(actor=None, scope=SYSTEM, activity=running, status="recruiting")
    closed = _recurring(city, "已结项的助餐")
    activity_set_status(actor=None, scope=SYSTEM, activity=closed, status="recruiting")
    activity_set_status(actor=None, scope=SYSTEM, activity=closed, status="closed")
    assert [a.shifts.count() for a in (running, closed)] == [8, 8]

    out = run("activities.recurring_shifts", today + dt.timedelta(days=3))

    assert out == "activities.recurring_shifts: 重复班次：1 个活动，新建 3 个班次\n"
    days = [timezone.localtime(s.starts_at).date() for s in running.shifts.order_by("starts_at")]
    assert days == [today + dt.timedelta(days=n) for n in range(11)]
    assert closed.shifts.count() == 8

    again = run("activities.recurring_shifts", today + dt.timedelta(days=3))
    assert again == "activities.recurring_shifts: 重复班次：1 个活动，新建 0 个班次\n"
    assert Shift.objects.filter(activity=running).count() == 11


# --- activity status -----------------------------------------------------------------------


def test_started_activities_move_to_running_once(city):
    today = timezone.localdate()
    due = make_activity(city.community_a, title="今天开始")
    unpublished = make_activity(city.community_a, title="未发布", publish=False)
    future = activity_create(
        actor=None,
        scope=SYSTEM,
        org=city.community_a,
        data=ActivityInput(
            title="五天后开始",
            category=category(),
            address="甲社区活动室",
            starts_on=today + dt.timedelta(days=5),
            ends_on=today + dt.timedelta(days=5),
        ),
    )
    start = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0)
    start += dt.timedelta(days=5)
    shift_add(
        actor=None,
        scope=SYSTEM,
        activity=future,
        data=ShiftInput(starts_at=start, ends_at=start + dt.timedelta(hours=2), capacity=3),
    )
    activity_set_status(actor=None, scope=SYSTEM, activity=future, status="recruiting")

    out = run("activities.status", today)

    assert out == "activities.status: 活动状态：1 个活动转为进行中\n"
    statuses = dict(Activity.objects.values_list("title", "status"))
    assert statuses == {
        "今天开始": ActivityStatus.RUNNING,
        "未发布": ActivityStatus.PENDING,
        "五天后开始": ActivityStatus.RECRUITING,
    }
    [entry] = AuditEntry.objects.filter(verb="activity.auto_start")
    assert entry.actor is None and entry.actor_label == "系统"
    assert entry.data == {"count": 1, "activities": [due.pk]}
    assert unpublished.status == ActivityStatus.PENDING

    assert run("activities.status", today) == "activities.status: 活动状态：0 个活动转为进行中\n"
    assert AuditEntry.objects.filter(verb="activity.auto_start").count() == 1

    out = run("activities.status", today + dt.timedelta(days=5))
    assert out == "activities.status: 活动状态：1 个活动转为进行中\n"
    future.refresh_from_db()
    assert future.status == ActivityStatus.RUNNING


def test_an_activity_the_organiser_reopened_is_not_started_again(city):
    today = timezone.localdate()
    reopened = make_activity(city.community_a, title="恢复招募的活动")
    activity_set_status(actor=None, scope=SYSTEM, activity=reopened, status="running")
    activity_set_status(actor=None, scope=SYSTEM, activity=reopened, status="recruiting")
    make_activity(city.community_a, title="今天开始的活动")

    out = run("activities.status", today)

    assert out == "activities.status: 活动状态：1 个活动转为进行中\n"
    statuses = dict(Activity.objects.values_list("title", "status"))
    assert statuses == {"恢复招募的活动": "recruiting", "今天开始的活动": "running"}
