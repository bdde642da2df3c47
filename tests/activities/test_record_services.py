"""Service records: credited time, records from attendance, confirmation, the 24-hour day,
declarations, rejection, correction and evaluation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from huzhu.activities.models import (
    Activity,
    RecordCorrection,
    RecordSource,
    RecordStatus,
    ServiceRecord,
    Shift,
    Signup,
)
from huzhu.activities.record_services import (
    RecordInput,
    credited_minutes,
    declarable_orgs,
    record_correct,
    record_declare,
    record_enter,
    record_evaluate,
    record_reject,
    records_confirm,
    round_minutes,
    shift_confirm,
    shift_records_create,
)
from huzhu.activities.services import Credential, check_in, signup_create
from huzhu.common.models import AuditEntry, Notification
from huzhu.orgs.scope import Scope
from huzhu.volunteers.models import Volunteer
from tests.activities.factories import (
    SYSTEM,
    attend,
    category,
    first_shift,
    local_at,
    make_activity,
    make_login_volunteer,
    make_service_team,
    make_volunteer,
    team_join,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


# --- credited minutes (no database) ---------------------------------------------------------


def _credit(in_at: dt.datetime | None, out_at: dt.datetime | None, unit=15, mode="down") -> int:
    day = dt.date(2026, 5, 6)
    shift = Shift(starts_at=local_at(day, 9), ends_at=local_at(day, 12))
    activity = Activity(rounding_minutes=unit, rounding=mode)
    return credited_minutes(shift, activity, Signup(checked_in_at=in_at, checked_out_at=out_at))


def _at(hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return local_at(dt.date(2026, 5, 6), hour, minute) + dt.timedelta(seconds=second)


@pytest.mark.parametrize(
    ("worked", "unit", "mode", "credited"),
    [
        (97, 15, "down", 90),
        (97, 15, "nearest", 90),
        (97, 15, "up", 105),
        (97, 30, "down", 90),
        (97, 30, "nearest", 90),
        (97, 30, "up", 120),
        (113, 15, "down", 105),
        (113, 15, "nearest", 120),
        (113, 15, "up", 120),
        (113, 30, "down", 90),
        (113, 30, "nearest", 120),
        (113, 30, "up", 120),
        (90, 15, "up", 90),
        (90, 30, "nearest", 90),
        (7, 15, "down", 0),
        (7, 15, "nearest", 0),
        (8, 15, "nearest", 15),
        (1, 15, "up", 15),
    ],
)
def test_credited_minutes_rounding(worked, unit, mode, credited):
    start = _at(9, 30)
    assert _credit(start, start + dt.timedelta(minutes=worked), unit, mode) == credited


def test_credited_minutes_ignore_seconds_short_of_a_unit():
    assert _credit(_at(9), _at(10, 29, 59)) == 75
    assert _credit(_at(9), _at(10, 29, 59), mode="nearest") == 90
    assert _credit(_at(9), _at(10, 30)) == 90


def test_credited_minutes_are_clamped_to_the_shift():
    # Early arrival, late departure and travel are not service time.
    assert _credit(_at(8, 20), _at(13, 40)) == 180
    assert _credit(_at(8, 20), _at(10, 0)) == 60
    assert _credit(_at(11, 0), _at(14, 0), mode="up") == 60
    assert _credit(_at(8, 0), _at(8, 50)) == 0
    assert _credit(_at(9, 0), None) == 0
    assert _credit(None, None) == 0


def test_rounding_up_never_credits_more_than_the_shift():
    day = dt.date(2026, 5, 6)
    shift = Shift(starts_at=local_at(day, 9), ends_at=local_at(day, 10, 40))
    activity = Activity(rounding_minutes=30, rounding="up")
    whole = Signup(checked_in_at=local_at(day, 8, 50), checked_out_at=local_at(day, 11))
    part = Signup(checked_in_at=local_at(day, 9), checked_out_at=local_at(day, 9, 40))
    assert credited_minutes(shift, activity, whole) == 100
    assert credited_minutes(shift, activity, part) == 60


def test_round_minutes_edges():
    assert round_minutes(0, 15, "up") == 0
    assert round_minutes(-5, 15, "up") == 0
    assert round_minutes(1440, 7, "up") == 1442  # capped by credited_minutes, not here
    assert round_minutes(22.5, 15, "nearest") == 30


# --- helpers for records from attendance -----------------------------------------------------


def past_shift(org, title="社区助老活动", days_ago=3, hour=9, hours=3, **fields) -> Shift:
    start = local_at(TODAY() - dt.timedelta(days=days_ago), hour)
    activity = make_activity(org, title=title, start=start, hours=hours, capacity=20, **fields)
    return first_shift(activity)


def served(volunteer: Volunteer, shift: Shift, minutes: int | None, late: int = 0) -> Signup:
    """Sign up the day before; check in ``late`` minutes after the start and stay
    ``minutes`` (None: never checks out)."""
    signup_create(
        actor=None,
        volunteer=volunteer,
        shift_id=shift.pk,
        now=shift.starts_at - dt.timedelta(days=1),
    )
    in_at = shift.starts_at + dt.timedelta(minutes=late)
    if minutes is None:
        return check_in(
            actor=None,
            volunteer_id=volunteer.pk,
            shift_id=shift.pk,
            credential=Credential(method="organiser"),
            scope=SYSTEM,
            now=in_at,
        )
    return attend(volunteer, shift, in_at, in_at + dt.timedelta(minutes=minutes))


def record_state() -> tuple:
    return (
        list(
            ServiceRecord.objects.order_by("id").values_list(
                "id", "status", "minutes", "served_on", "confirmer_id", "reject_reason"
            )
        ),
        list(Volunteer.objects.order_by("id").values_list("id", "recorded_minutes")),
        list(Shift.objects.order_by("id").values_list("id", "records_created_at")),
        Notification.objects.count(),
        RecordCorrection.objects.count(),
    )


def minutes_of(volunteer: Volunteer) -> int:
    volunteer.refresh_from_db()
    return volunteer.recorded_minutes


# --- records from attendance -----------------------------------------------------------------


def test_shift_records_create_makes_pending_records_once(city):
    shift = past_shift(city.community_a)
    shift.name = "上午班"
    shift.save()
    full = make_volunteer(city.grid_a, "王一")
    part = make_volunteer(city.grid_a, "王二")
    forgot = make_volunteer(city.grid_a, "王三")
    brief = make_volunteer(city.grid_a, "王四")
    absent = make_volunteer(city.grid_a, "王五")
    served(full, shift, 200, late=-20)  # arrived early, left on time
    served(part, shift, 100, late=20)
    served(forgot, shift, None)
    served(brief, shift, 10)
    signup_create(
        actor=None, volunteer=absent, shift_id=shift.pk, now=shift.starts_at - dt.timedelta(days=1)
    )

    result = shift_records_create(
        actor=city.worker_a, scope=Scope.for_user(city.worker_a), shift=shift
    )
    assert (result.created, result.confirmed) == (2, 0)
    assert result.skipped == [
        ("王三", "已签到未签退，请先更正签退时间"),
        ("王四", "班次内的服务时长不足一个取整单位"),
    ]
    records = {r.volunteer_id: r for r in ServiceRecord.objects.all()}
    assert {v: r.minutes for v, r in records.items()} == {full.pk: 180, part.pk: 90}
    record = records[full.pk]
    assert record.status == RecordStatus.PENDING
    assert record.source == RecordSource.ATTENDANCE
    assert record.served_on == TODAY() - dt.timedelta(days=3)
    assert (record.place, record.content) == ("甲社区活动室", "社区助老活动 上午班")
    assert (record.org, record.category, record.recorder) == (
        city.community_a,
        category(),
        city.worker_a,
    )
    assert (record.confirmer, record.confirmed_at) == (None, None)
    assert record.signup == Signup.objects.get(volunteer=full)
    shift.refresh_from_db()
    assert shift.records_created_at is not None
    assert minutes_of(full) == 0
    assert not Notification.objects.filter(kind="activity.hours").exists()

    again = shift_records_create(actor=None, scope=SYSTEM, shift=shift)
    assert again.created == 0 and len(again.skipped) == 2
    assert ServiceRecord.objects.count() == 2


def test_shift_records_need_the_scope(city):
    shift = past_shift(city.community_a)
    served(make_volunteer(city.grid_a), shift, 60)
    with pytest.raises(PermissionDenied):
        shift_records_create(actor=None, scope=Scope.for_user(city.worker_b), shift=shift)
    with pytest.raises(PermissionDenied):
        shift_confirm(actor=None, scope=Scope.for_user(city.worker_b), shift=shift)
    assert ServiceRecord.objects.count() == 0


def test_shift_confirm_creates_confirms_rolls_up_and_notifies(city):
    shift = past_shift(city.community_a)
    a = make_login_volunteer(city.grid_a, "王一", "v-a")
    b = make_login_volunteer(city.grid_a, "王二", "v-b")
    late = make_login_volunteer(city.grid_a, "王三", "v-c")
    Volunteer.objects.filter(pk=a.pk).update(historical_minutes=600, recorded_minutes=600)
    served(a, shift, 180)
    served(b, shift, 120)
    shift_records_create(actor=None, scope=SYSTEM, shift=shift)  # a and b pending
    served(late, shift, 60, late=60)  # recorded after the first pass

    scope = Scope.for_user(city.worker_a)
    result = shift_confirm(actor=city.worker_a, scope=scope, shift=shift)
    assert (result.created, result.confirmed, result.skipped) == (1, 3, [])
    rows = ServiceRecord.objects.values_list("volunteer_id", "status", "minutes", "confirmer_id")
    assert sorted(rows) == sorted(
        [
            (a.pk, "confirmed", 180, city.worker_a.pk),
            (b.pk, "confirmed", 120, city.worker_a.pk),
            (late.pk, "confirmed", 60, city.worker_a.pk),
        ]
    )
    assert not ServiceRecord.objects.filter(confirmed_at__isnull=True).exists()
    assert (minutes_of(a), minutes_of(b), minutes_of(late)) == (780, 120, 60)
    notes = Notification.objects.filter(kind="activity.hours").order_by("user__username")
    assert [(n.user.username, n.title) for n in notes] == [
        ("v-a", "服务时长已确认：3 小时"),
        ("v-b", "服务时长已确认：2 小时"),
        ("v-c", "服务时长已确认：1 小时"),
    ]
    day = TODAY() - dt.timedelta(days=3)
    assert notes[0].body == f"{day} 社区助老活动"
    entry = AuditEntry.objects.get(verb="records.confirm_shift")
    assert entry.data == {"created": 1, "confirmed": 3, "skipped": 0}

    # Confirming again changes nothing and tells nobody again.
    before = record_state()
    again = shift_confirm(actor=None, scope=SYSTEM, shift=shift)
    assert (again.created, again.confirmed) == (0, 0)
    assert record_state() == before


def test_recorded_minutes_add_up_across_shifts(city):
    volunteer = make_volunteer(city.grid_a)
    Volunteer.objects.filter(pk=volunteer.pk).update(historical_minutes=90)
    first = past_shift(city.community_a, days_ago=5)
    second = past_shift(city.community_b, title="乙社区活动", days_ago=4)
    served(volunteer, first, 60)
    served(volunteer, second, 45)
    shift_confirm(actor=None, scope=SYSTEM, shift=first)
    assert minutes_of(volunteer) == 150
    shift_confirm(actor=None, scope=SYSTEM, shift=second)
    assert minutes_of(volunteer) == 195


# --- no more than 24 hours on one day ---------------------------------------------------------


def test_day_limit_across_two_activities_refuses_the_whole_batch(city):
    day_ago = 3
    morning = past_shift(city.community_a, "夜间巡逻", days_ago=day_ago, hour=0, hours=12)
    evening = past_shift(city.community_b, "防汛值守", days_ago=day_ago, hour=12, hours=20)
    busy = make_login_volunteer(city.grid_a, "王一", "v-a")
    other = make_login_volunteer(city.grid_a, "王二", "v-b")
    served(busy, morning, 12 * 60)
    served(busy, evening, 20 * 60)
    served(other, evening, 60)
    shift_confirm(actor=None, scope=SYSTEM, shift=morning)
    assert minutes_of(busy) == 720

    before = record_state()
    for call in (shift_records_create, shift_confirm):
        with pytest.raises(ValidationError) as caught:
            call(actor=None, scope=SYSTEM, shift=evening)
        day = TODAY() - dt.timedelta(days=day_ago)
        assert caught.value.messages == [
            f"王一 在 {day} 的服务时长合计 32.0 小时，超过一天 24 小时。"
        ]
        assert record_state() == before
    assert ServiceRecord.objects.count() == 1
    assert (minutes_of(busy), minutes_of(other)) == (720, 0)


def test_day_limit_allows_exactly_24_hours(city):
    volunteer = make_volunteer(city.grid_a)
    morning = past_shift(city.community_a, "夜间巡逻", hour=0, hours=12)
    evening = past_shift(city.community_b, "防汛值守", hour=12, hours=12)
    served(volunteer, morning, 12 * 60)
    served(volunteer, evening, 12 * 60)
    shift_confirm(actor=None, scope=SYSTEM, shift=morning)
    shift_confirm(actor=None, scope=SYSTEM, shift=evening)
    assert minutes_of(volunteer) == 1440


# --- declared and entered records -------------------------------------------------------------


def declaration(days_ago=2, minutes=120, **fields) -> RecordInput:
    values = dict(
        served_on=TODAY() - dt.timedelta(days=days_ago),
        minutes=minutes,
        content="陪伴独居老人",
        place="甲社区3号楼",
        category=category(),
    )
    values.update(fields)
    return RecordInput(**values)


def test_declared_record_waits_for_confirmation(city):
    volunteer = make_login_volunteer(city.grid_a, "王一", "v-a")
    user = volunteer.person.user
    record = record_declare(
        actor=user, volunteer=volunteer, org=city.community_a, data=declaration()
    )
    record.refresh_from_db()
    assert (record.status, record.source, record.minutes) == ("pending", "declared", 120)
    assert (record.recorder, record.org, record.content) == (user, city.community_a, "陪伴独居老人")
    assert minutes_of(volunteer) == 0
    assert AuditEntry.objects.get(verb="record.declare").data == {"minutes": 120}


@pytest.mark.parametrize(
    ("fields", "field", "phrase"),
    [
        ({"days_ago": -1}, "served_on", "服务日期不能晚于今天"),
        ({"days_ago": 366 * 3 + 1}, "served_on", "只能登记三年以内的服务"),
        ({"minutes": 1441}, "minutes", "1 分钟到 24 小时之间"),
        ({"minutes": 0}, "minutes", "1 分钟到 24 小时之间"),
        ({"content": "  "}, "content", "请填写服务内容"),
        ({"place": ""}, "place", "请填写服务地点"),
    ],
)
def test_invalid_declarations_are_refused(city, fields, field, phrase):
    volunteer = make_volunteer(city.grid_a)
    with pytest.raises(ValidationError) as caught:
        record_declare(
            actor=None, volunteer=volunteer, org=city.community_a, data=declaration(**fields)
        )
    assert list(caught.value.message_dict) == [field]
    assert phrase in caught.value.message_dict[field][0]
    assert ServiceRecord.objects.count() == 0


def test_declaration_goes_to_the_volunteers_own_orgs_only(city):
    volunteer = make_volunteer(city.grid_a)
    team = make_service_team(city.community_a)
    team_join(team, volunteer)
    orgs = declarable_orgs(volunteer)
    assert {o.pk for o in orgs} == {city.grid_a.pk, city.community_a.pk, team.pk, team.parent_id}
    with pytest.raises(ValidationError) as caught:
        record_declare(actor=None, volunteer=volunteer, org=city.community_b, data=declaration())
    assert caught.value.message_dict == {"org": ["请选择您所在的社区、总队或服务队作为确认单位。"]}
    record = record_declare(actor=None, volunteer=volunteer, org=team, data=declaration())
    assert record.org == team
    assert ServiceRecord.objects.count() == 1


def test_declaration_respects_the_day_limit(city):
    volunteer = make_volunteer(city.grid_a)
    record_declare(
        actor=None, volunteer=volunteer, org=city.community_a, data=declaration(minutes=1400)
    )
    with pytest.raises(ValidationError) as caught:
        record_declare(
            actor=None, volunteer=volunteer, org=city.community_a, data=declaration(minutes=60)
        )
    assert "超过一天 24 小时" in caught.value.messages[0]
    assert "李志愿" in caught.value.messages[0]
    assert ServiceRecord.objects.count() == 1


def test_entered_record_can_be_confirmed_at_once(city):
    volunteer = make_login_volunteer(city.grid_a, "王一", "v-a")
    scope = Scope.for_user(city.worker_a)
    record = record_enter(
        actor=city.worker_a,
        scope=scope,
        volunteer=volunteer,
        org=city.community_a,
        data=declaration(minutes=75),
        confirm=True,
    )
    assert (record.status, record.source, record.confirmer) == (
        "confirmed",
        "entered",
        city.worker_a,
    )
    assert minutes_of(volunteer) == 75
    assert Notification.objects.get(kind="activity.hours").title == "服务时长已确认：1.2 小时"
    with pytest.raises(PermissionDenied):
        record_enter(
            actor=city.worker_b,
            scope=Scope.for_user(city.worker_b),
            volunteer=volunteer,
            org=city.community_a,
            data=declaration(),
        )
    assert ServiceRecord.objects.count() == 1


# --- confirming, rejecting ---------------------------------------------------------------------


def declared(volunteer, org, days_ago=2, minutes=120) -> ServiceRecord:
    return record_declare(
        actor=None, volunteer=volunteer, org=org, data=declaration(days_ago, minutes)
    )


def test_records_confirm_in_scope(city):
    volunteer = make_login_volunteer(city.grid_a, "王一", "v-a")
    one = declared(volunteer, city.community_a, days_ago=2, minutes=60)
    two = declared(volunteer, city.grid_a, days_ago=3, minutes=90)
    confirmed = records_confirm(
        actor=city.worker_a, scope=Scope.for_user(city.worker_a), record_ids=[one.pk, two.pk]
    )
    assert confirmed == 2
    rows = ServiceRecord.objects.values_list("status", "confirmer_id")
    assert set(rows) == {("confirmed", city.worker_a.pk)}
    assert minutes_of(volunteer) == 150
    # One message per record, both to the same person.
    titles = sorted(
        Notification.objects.filter(kind="activity.hours", user__username="v-a").values_list(
            "title", flat=True
        )
    )
    assert titles == ["服务时长已确认：1 小时", "服务时长已确认：1.5 小时"]
    assert AuditEntry.objects.filter(verb="record.confirm").count() == 2


def test_records_confirm_refuses_ids_out_of_scope_or_not_pending(city):
    a = make_volunteer(city.grid_a, "王一")
    b = make_volunteer(city.grid_b, "王二")
    mine = declared(a, city.community_a)
    theirs = declared(b, city.community_b)
    scope = Scope.for_user(city.worker_a)
    before = record_state()
    for ids in ([mine.pk, theirs.pk], [theirs.pk], [mine.pk, 999_999]):
        with pytest.raises(ValidationError) as caught:
            records_confirm(actor=city.worker_a, scope=scope, record_ids=ids)
        assert caught.value.messages == ["部分记录不存在、不是待确认状态或不在您的管理范围内。"]
        assert record_state() == before
    records_confirm(actor=city.worker_a, scope=scope, record_ids=[mine.pk])
    before = record_state()
    with pytest.raises(ValidationError):
        records_confirm(actor=city.worker_a, scope=scope, record_ids=[mine.pk])
    assert record_state() == before
    assert records_confirm(actor=None, scope=scope, record_ids=[]) == 0


def test_record_reject_needs_a_reason_and_a_pending_record(city):
    volunteer = make_volunteer(city.grid_a)
    record = declared(volunteer, city.community_a, minutes=1400)
    before = record_state()
    with pytest.raises(ValidationError) as caught:
        record_reject(actor=None, scope=SYSTEM, record=record, reason=" ")
    assert caught.value.message_dict == {"reason": ["请说明退回原因。"]}
    assert record_state() == before
    with pytest.raises(PermissionDenied):
        record_reject(actor=None, scope=Scope.for_user(city.worker_b), record=record, reason="不实")
    record_reject(actor=None, scope=SYSTEM, record=record, reason="当天未见到本人")
    record.refresh_from_db()
    assert (record.status, record.reject_reason) == ("rejected", "当天未见到本人")
    with pytest.raises(ValidationError) as caught:
        record_reject(actor=None, scope=SYSTEM, record=record, reason="再次退回")
    assert caught.value.messages == ["只能退回待确认的记录。"]
    # A rejected record no longer counts towards the day.
    assert declared(volunteer, city.community_a, minutes=600).minutes == 600


# --- corrections and evaluations ---------------------------------------------------------------


def confirmed_record(city, volunteer, minutes=180) -> ServiceRecord:
    return record_enter(
        actor=None,
        scope=SYSTEM,
        volunteer=volunteer,
        org=city.community_a,
        data=declaration(minutes=minutes),
        confirm=True,
    )


def test_record_correct_keeps_the_old_values(city):
    volunteer = make_volunteer(city.grid_a)
    record = confirmed_record(city, volunteer)
    assert minutes_of(volunteer) == 180
    record_correct(
        actor=city.worker_a,
        scope=Scope.for_user(city.worker_a),
        record=record,
        reason="签退时间有误",
        minutes=120,
        content="陪伴独居老人（更正）",
    )
    record.refresh_from_db()
    assert (record.minutes, record.content, record.status) == (
        120,
        "陪伴独居老人（更正）",
        "confirmed",
    )
    correction = RecordCorrection.objects.get()
    assert (correction.old_minutes, correction.new_minutes) == (180, 120)
    assert correction.old_values == {"minutes": "180", "content": "陪伴独居老人"}
    assert (correction.reason, correction.actor) == ("签退时间有误", city.worker_a)
    assert minutes_of(volunteer) == 120
    entry = AuditEntry.objects.get(verb="record.correct")
    assert entry.data["changed"] == {"minutes": "180", "content": "陪伴独居老人"}


@pytest.mark.parametrize(
    ("reason", "changes", "phrase"),
    [
        ("", {"minutes": 60}, "请填写更正原因"),
        ("录入有误", {"minutes": 180}, "没有需要更正的内容"),
        ("录入有误", {}, "没有需要更正的内容"),
        ("录入有误", {"status": "pending"}, "不能更正这些字段：status"),
        ("录入有误", {"minutes": 1441}, "1 分钟到 24 小时之间"),
        ("录入有误", {"served_on": dt.date(2999, 1, 1)}, "服务日期不能晚于今天"),
    ],
)
def test_invalid_corrections_change_nothing(city, reason, changes, phrase):
    volunteer = make_volunteer(city.grid_a)
    record = confirmed_record(city, volunteer)
    before = record_state()
    with pytest.raises(ValidationError) as caught:
        record_correct(actor=None, scope=SYSTEM, record=record, reason=reason, **changes)
    assert phrase in " ".join(caught.value.messages)
    assert record_state() == before


def test_only_confirmed_records_are_corrected(city):
    volunteer = make_volunteer(city.grid_a)
    pending = declared(volunteer, city.community_a)
    with pytest.raises(ValidationError) as caught:
        record_correct(actor=None, scope=SYSTEM, record=pending, reason="录入有误", minutes=60)
    assert caught.value.messages == ["只能更正已确认的记录；待确认的记录可直接退回或确认。"]
    pending.refresh_from_db()
    assert pending.minutes == 120


def test_correction_respects_the_day_limit(city):
    volunteer = make_volunteer(city.grid_a)
    record = confirmed_record(city, volunteer, minutes=600)
    declared(volunteer, city.community_a, minutes=600)
    before = record_state()
    with pytest.raises(ValidationError) as caught:
        record_correct(actor=None, scope=SYSTEM, record=record, reason="补录", minutes=900)
    assert "合计 25.0 小时，超过一天 24 小时" in caught.value.messages[0]
    assert record_state() == before
    record_correct(actor=None, scope=SYSTEM, record=record, reason="补录", minutes=840)
    assert minutes_of(volunteer) == 840


def test_correction_outside_scope_is_permission_denied(city):
    record = confirmed_record(city, make_volunteer(city.grid_a))
    with pytest.raises(PermissionDenied):
        record_correct(
            actor=None,
            scope=Scope.for_user(city.worker_b),
            record=record,
            reason="录入有误",
            minutes=60,
        )


def test_record_evaluate(city):
    record = confirmed_record(city, make_volunteer(city.grid_a))
    record_evaluate(actor=None, scope=SYSTEM, record=record, rating=5, evaluation="  耐心细致  ")
    record.refresh_from_db()
    assert (record.rating, record.evaluation, record.get_rating_display()) == (
        5,
        "耐心细致",
        "优秀",
    )
    with pytest.raises(ValidationError) as caught:
        record_evaluate(actor=None, scope=SYSTEM, record=record, rating=2, evaluation="")
    assert caught.value.message_dict == {"rating": ["评价等级无效。"]}
    with pytest.raises(PermissionDenied):
        record_evaluate(
            actor=None, scope=Scope.for_user(city.worker_b), record=record, rating=1, evaluation=""
        )
    record.refresh_from_db()
    assert (record.rating, record.evaluation) == (5, "耐心细致")
    record_evaluate(actor=None, scope=SYSTEM, record=record, rating=None, evaluation="")
    record.refresh_from_db()
    assert record.rating is None
    assert AuditEntry.objects.filter(verb="record.evaluate").count() == 2
