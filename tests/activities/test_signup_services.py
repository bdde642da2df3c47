"""Sign-up, the organiser's decision and withdrawal: every rule, and refusals change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from huzhu.activities.models import Shift, Signup, SignupStatus
from huzhu.activities.services import (
    Credential,
    check_in,
    shift_mark_no_shows,
    shift_update,
    signup_create,
    signup_decide,
    signup_withdraw,
)
from huzhu.common.models import AuditEntry, Notification
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.volunteers.models import Qualification, QualificationType, Skill, TeamMembership
from tests.activities.factories import (
    SYSTEM,
    first_shift,
    local_at,
    make_activity,
    make_login_volunteer,
    make_minor_volunteer,
    make_service_team,
    make_volunteer,
    shift_input_like,
    signup_state,
    team_join,
    years_before,
)
from tests.factories import UserFactory, grant

pytestmark = pytest.mark.django_db


def refused(phrase: str, **kwargs) -> ValidationError:
    """Call ``signup_create``, expect a refusal containing ``phrase`` and no change at all."""
    before = signup_state()
    with pytest.raises(ValidationError) as caught:
        signup_create(actor=None, **kwargs)
    assert phrase in " ".join(caught.value.messages)
    assert signup_state() == before
    return caught.value


def sign(volunteer, shift: Shift, **kwargs) -> Signup:
    return signup_create(actor=None, volunteer=volunteer, shift_id=shift.pk, **kwargs)


def confirm_mode(shift: Shift) -> Shift:
    return shift_update(
        actor=None, scope=SYSTEM, shift=shift, data=shift_input_like(shift, signup_mode="confirm")
    )


def count(shift: Shift) -> int:
    shift.refresh_from_db()
    return shift.confirmed_count


# --- places and the waiting list ------------------------------------------------------------


def test_instant_signup_confirms_until_full_then_waitlists_in_time_order(city):
    activity = make_activity(city.community_a, capacity=2)
    shift = first_shift(activity)
    now = timezone.now()
    people = [make_login_volunteer(city.grid_a, f"王{n}", username=f"v-{n}") for n in range(5)]
    made = [
        sign(person, shift, now=now - dt.timedelta(minutes=60 - n), note="我有空")
        for n, person in enumerate(people)
    ]
    assert [s.status for s in made] == ["confirmed", "confirmed"] + ["waitlisted"] * 3
    assert count(shift) == 2
    waiting = Signup.objects.filter(shift=shift, status=SignupStatus.WAITLISTED)
    assert [s.volunteer_id for s in waiting] == [p.pk for p in people[2:]]
    assert made[0].queued_at == now - dt.timedelta(minutes=60)
    assert made[0].note == "我有空"
    titles = list(
        Notification.objects.filter(kind="activity.signup")
        .order_by("user__username")
        .values_list("title", flat=True)
    )
    assert titles == ["报名成功：社区助老活动"] * 2 + ["名额已满，您已进入候补：社区助老活动"] * 3
    assert AuditEntry.objects.filter(verb="signup.create").count() == 5


def test_confirm_mode_waits_for_the_decision(city):
    activity = make_activity(city.community_a, capacity=1)
    shift = confirm_mode(first_shift(activity))
    a = make_login_volunteer(city.grid_a, "王一", username="a")
    b = make_login_volunteer(city.grid_a, "王二", username="b")
    c = make_login_volunteer(city.grid_a, "王三", username="c")
    pending = [sign(v, shift) for v in (a, b, c)]
    assert [s.status for s in pending] == ["pending"] * 3
    assert count(shift) == 0
    assert Notification.objects.get(user__username="a").title == (
        "报名已提交，等待审核：社区助老活动"
    )

    approved = signup_decide(actor=None, scope=SYSTEM, signup=pending[0], approve=True)
    assert approved.status == SignupStatus.CONFIRMED and count(shift) == 1
    declined = signup_decide(
        actor=None, scope=SYSTEM, signup=pending[1], approve=False, reason="人数已够"
    )
    assert (declined.status, declined.note) == (SignupStatus.REJECTED, "人数已够")
    full = signup_decide(actor=None, scope=SYSTEM, signup=pending[2], approve=True)
    assert full.status == SignupStatus.WAITLISTED and count(shift) == 1

    decided = {n.user.username: n for n in Notification.objects.order_by("id")}  # the latest
    assert decided["a"].title == "报名已通过审核：社区助老活动"
    assert (decided["b"].title, decided["b"].body) == ("报名未通过：社区助老活动", "人数已够")
    assert decided["c"].title == "报名已通过审核，名额已满，您已进入候补：社区助老活动"
    assert AuditEntry.objects.filter(verb="signup.decide").count() == 3

    before = signup_state()
    with pytest.raises(ValidationError) as caught:
        signup_decide(actor=None, scope=SYSTEM, signup=approved, approve=False)
    assert caught.value.messages == ["该报名不是待审核状态。"]
    assert signup_state() == before


def test_decide_outside_scope_is_permission_denied(city):
    shift = confirm_mode(first_shift(make_activity(city.community_a)))
    signup = sign(make_volunteer(city.grid_a), shift)
    with pytest.raises(PermissionDenied):
        signup_decide(
            actor=city.worker_b, scope=Scope.for_user(city.worker_b), signup=signup, approve=True
        )
    signup.refresh_from_db()
    assert signup.status == SignupStatus.PENDING


def test_signing_up_twice_is_refused(city):
    shift = first_shift(make_activity(city.community_a))
    volunteer = make_volunteer(city.grid_a)
    sign(volunteer, shift)
    refused("您已报名该班次（已报名）", volunteer=volunteer, shift_id=shift.pk)
    assert count(shift) == 1


def test_signing_up_again_after_withdrawal_reuses_the_row(city):
    shift = first_shift(make_activity(city.community_a))
    volunteer = make_volunteer(city.grid_a)
    first = sign(volunteer, shift, note="第一次")
    signup_withdraw(actor=None, signup=first, reason="临时有事")
    assert count(shift) == 0
    later = timezone.now() + dt.timedelta(minutes=1)
    again = sign(volunteer, shift, note="第二次", now=later)
    assert again.pk == first.pk
    again.refresh_from_db()
    assert (again.status, again.note, again.queued_at) == (SignupStatus.CONFIRMED, "第二次", later)
    assert Signup.objects.count() == 1 and count(shift) == 1


# --- clashes ------------------------------------------------------------------------------


def test_overlapping_shift_of_another_activity_is_refused_by_name(city):
    start = local_at(timezone.localdate() + dt.timedelta(days=2), 9)
    first = make_activity(city.community_a, title="助老理发", start=start, hours=3)
    volunteer = make_volunteer(city.grid_a)
    sign(volunteer, first_shift(first))
    overlap = make_activity(
        city.community_b, title="义诊", start=start + dt.timedelta(hours=2), hours=2
    )
    expected = f"与您已报名的“助老理发”（{start:%m-%d} 09:00–12:00）时间冲突"
    refused(expected, volunteer=volunteer, shift_id=first_shift(overlap).pk)
    # Back to back is not a clash.
    after = make_activity(
        city.community_b, title="环境整治", start=start + dt.timedelta(hours=3), hours=1
    )
    assert sign(volunteer, first_shift(after)).status == SignupStatus.CONFIRMED


def test_a_withdrawn_signup_does_not_clash(city):
    start = local_at(timezone.localdate() + dt.timedelta(days=2), 9)
    first = make_activity(city.community_a, title="助老理发", start=start)
    volunteer = make_volunteer(city.grid_a)
    signup_withdraw(actor=None, signup=sign(volunteer, first_shift(first)))
    overlap = make_activity(city.community_b, title="义诊", start=start)
    assert sign(volunteer, first_shift(overlap)).status == SignupStatus.CONFIRMED


# --- who may sign up ------------------------------------------------------------------------


def test_a_minor_may_not_join_a_risky_activity_even_via_the_organiser(city):
    risky = dict(is_risky=True, insurer="某保险公司", insurance_policy="PA-001")
    activity = make_activity(city.community_a, **risky)
    shift = first_shift(activity)
    day = timezone.localtime(shift.starts_at).date()
    minor = make_minor_volunteer(city.grid_a, "小明", birth=years_before(day, 17, 30))
    assert minor.person.age_on(day) == 17
    refused("未成年人不能参加有风险的活动", volunteer=minor, shift_id=shift.pk)
    refused("未成年人不能参加有风险的活动", volunteer=minor, shift_id=shift.pk, scope=SYSTEM)
    safe = make_activity(city.community_a, title="图书整理", start=shift.ends_at)
    assert sign(minor, first_shift(safe)).status == SignupStatus.CONFIRMED


def test_an_adult_on_the_day_may_join_a_risky_activity(city):
    risky = dict(is_risky=True, insurer="某保险公司", insurance_policy="PA-001")
    shift = first_shift(make_activity(city.community_a, **risky))
    day = timezone.localtime(shift.starts_at).date()
    # Seventeen when registering today; eighteen on the day of the shift.
    adult = make_minor_volunteer(city.grid_a, "小红", birth=years_before(day, 18))
    assert sign(adult, shift).status == SignupStatus.CONFIRMED


def test_minimum_age(city):
    shift = first_shift(make_activity(city.community_a, min_age=60))
    volunteer = make_volunteer(city.grid_a, birth=dt.date(1990, 5, 1))
    age = volunteer.person.age_on(timezone.localtime(shift.starts_at).date())
    refused(
        f"该活动要求年满 60 周岁，您在活动当天为 {age} 周岁",
        volunteer=volunteer,
        shift_id=shift.pk,
    )
    refused("该活动要求年满 60 周岁", volunteer=volunteer, shift_id=shift.pk, scope=SYSTEM)
    elder = make_volunteer(city.grid_a, "老张", birth=dt.date(1950, 1, 1))
    assert sign(elder, shift).status == SignupStatus.CONFIRMED


def test_required_skill(city):
    first_aid = Skill.objects.get(name="急救")
    activity = make_activity(city.community_a)
    activity.required_skills.set([first_aid, Skill.objects.get(name="护理")])
    shift = first_shift(activity)
    volunteer = make_volunteer(city.grid_a)
    refused("该活动需要以下技能：护理、急救", volunteer=volunteer, shift_id=shift.pk)
    volunteer.skills.add(first_aid)
    refused("该活动需要以下技能：护理", volunteer=volunteer, shift_id=shift.pk)
    volunteer.skills.add(Skill.objects.get(name="护理"))
    assert sign(volunteer, shift).status == SignupStatus.CONFIRMED


def test_required_qualification_must_be_valid_on_the_day(city):
    kind = QualificationType.objects.get(name="急救证")
    activity = make_activity(city.community_a)
    activity.required_qualifications.set([kind])
    shift = first_shift(activity)
    day = timezone.localtime(shift.starts_at).date()
    volunteer = make_volunteer(city.grid_a)
    refused("该活动需要有效的资质证书：急救证", volunteer=volunteer, shift_id=shift.pk)
    expired = Qualification.objects.create(
        volunteer=volunteer,
        kind=kind,
        issued_on=day - dt.timedelta(days=400),
        expires_on=day - dt.timedelta(days=1),
    )
    refused("该活动需要有效的资质证书：急救证", volunteer=volunteer, shift_id=shift.pk)
    expired.expires_on = day  # valid through the day of the shift
    expired.save()
    assert sign(volunteer, shift).status == SignupStatus.CONFIRMED


def test_team_only_activity(city):
    team = make_service_team(city.community_a)
    corps = team.parent
    member = make_volunteer(city.grid_a, "队员")
    outsider = make_volunteer(city.grid_a, "路人")
    team_join(team, member)
    for org, title in ((team, "队内活动"), (corps, "总队活动"), (city.community_a, "社区活动")):
        shift = first_shift(make_activity(org, title=title, recruitment="team"))
        assert sign(member, shift).status == SignupStatus.CONFIRMED
        refused(f"该活动仅限“{org.name}”的队员报名", volunteer=outsider, shift_id=shift.pk)
        signup_withdraw(actor=None, signup=Signup.objects.get(volunteer=member, shift=shift))


def test_team_only_activity_of_another_team_or_after_leaving(city):
    team = make_service_team(city.community_a)
    other = make_service_team(city.community_a, "甲社区环保服务队")
    member = make_volunteer(city.grid_a)
    team_join(team, member)
    shift = first_shift(make_activity(other, recruitment="team"))
    refused("该活动仅限“甲社区环保服务队”的队员报名", volunteer=member, shift_id=shift.pk)
    own = first_shift(
        make_activity(team, title="队内活动", recruitment="team", start=shift.ends_at)
    )
    TeamMembership.objects.filter(volunteer=member).update(left_on=timezone.localdate())
    refused("的队员报名", volunteer=member, shift_id=own.pk)


def test_invitation_code_is_checked_without_case(city):
    shift = first_shift(make_activity(city.community_a, recruitment="code", invite_code="AbC123"))
    volunteer = make_volunteer(city.grid_a)
    error = refused("邀请码不正确", volunteer=volunteer, shift_id=shift.pk, invite_code="ABC124")
    assert error.message_dict == {"invite_code": ["邀请码不正确。"]}
    refused("邀请码不正确", volunteer=volunteer, shift_id=shift.pk)
    assert sign(volunteer, shift, invite_code=" abc123 ").status == SignupStatus.CONFIRMED


def test_volunteer_not_yet_registered_is_refused(city):
    shift = first_shift(make_activity(city.community_a))
    volunteer = make_volunteer(city.grid_a)
    volunteer.status = "pending"
    volunteer.save(update_fields=["status"])
    refused("您的志愿者注册状态为“待审核”", volunteer=volunteer, shift_id=shift.pk)
    refused("审核通过后才能报名活动", volunteer=volunteer, shift_id=shift.pk, scope=SYSTEM)


@pytest.mark.parametrize(("path", "label"), [([], "待启动"), (["recruiting", "closed"], "已结项")])
def test_activity_not_recruiting_is_refused(city, path, label):
    from huzhu.activities.services import activity_set_status

    activity = make_activity(city.community_a, publish=False, title="助老理发")
    for status in path:
        activity_set_status(actor=None, scope=SYSTEM, activity=activity, status=status)
    refused(
        f"活动“助老理发”当前为“{label}”，不接受报名",
        volunteer=make_volunteer(city.grid_a),
        shift_id=first_shift(activity).pk,
    )


def test_running_activity_still_accepts_signups(city):
    from huzhu.activities.services import activity_set_status

    activity = make_activity(city.community_a)
    activity_set_status(actor=None, scope=SYSTEM, activity=activity, status="running")
    assert sign(make_volunteer(city.grid_a), first_shift(activity)).status == "confirmed"


def test_started_or_cancelled_shift_is_refused(city):
    from huzhu.activities.services import shift_cancel

    activity = make_activity(city.community_a, shifts=2)
    one, two = activity.shifts.order_by("starts_at")
    volunteer = make_volunteer(city.grid_a)
    refused("该班次已开始，报名已截止", volunteer=volunteer, shift_id=one.pk, now=one.starts_at)
    refused(
        "该班次已开始",
        volunteer=volunteer,
        shift_id=one.pk,
        now=one.starts_at,
        scope=SYSTEM,
    )
    before_start = one.starts_at - dt.timedelta(seconds=1)
    assert sign(volunteer, one, now=before_start).status == SignupStatus.CONFIRMED
    shift_cancel(actor=None, scope=SYSTEM, shift=two, reason="场地不可用")
    refused("该班次已取消", volunteer=volunteer, shift_id=two.pk)


# --- the no-show bar ------------------------------------------------------------------------


def no_shows(city, volunteer, days_ago: list[int]) -> list[Shift]:
    """Shifts in the past the volunteer signed up for and missed."""
    today = timezone.localdate()
    first = max(days_ago)
    activity = make_activity(
        city.community_a,
        title="往期活动",
        shifts=first + 1,
        start=local_at(today - dt.timedelta(days=first), 8),
        hours=1,
    )
    shifts = {timezone.localtime(s.starts_at).date(): s for s in activity.shifts.all()}
    missed = []
    for days in days_ago:
        shift = shifts[today - dt.timedelta(days=days)]
        sign(volunteer, shift, now=shift.starts_at - dt.timedelta(days=1))
        after_window = shift.ends_at + dt.timedelta(hours=3)
        assert shift_mark_no_shows(actor=None, shift=shift, now=after_window) == 1
        missed.append(shift)
    return missed


def test_repeated_no_shows_bar_signup_until_a_date(city, settings):
    settings.HUZHU_NO_SHOW_LIMIT = 2
    settings.HUZHU_NO_SHOW_WINDOW_DAYS = 90
    settings.HUZHU_NO_SHOW_BLOCK_DAYS = 30
    volunteer = make_volunteer(city.grid_a)
    missed = no_shows(city, volunteer, [10, 5])
    shift = first_shift(make_activity(city.community_b, title="新活动"))
    last = timezone.localtime(missed[-1].starts_at).date()
    until = last + dt.timedelta(days=30)
    refused(
        f"您近期多次报名后缺席，{until} 前不能报名新的班次",
        volunteer=volunteer,
        shift_id=shift.pk,
    )
    # The organiser can still sign them up.
    assert sign(volunteer, shift, scope=SYSTEM).status == SignupStatus.CONFIRMED


def test_no_show_bar_is_judged_at_the_time_of_signup(city, settings):
    settings.HUZHU_NO_SHOW_LIMIT = 2
    settings.HUZHU_NO_SHOW_BLOCK_DAYS = 3
    volunteer = make_volunteer(city.grid_a)
    no_shows(city, volunteer, [10, 5])
    today = timezone.localdate()
    start = local_at(today + dt.timedelta(days=20), 9)
    shift = first_shift(make_activity(city.community_b, title="新活动", start=start))
    # Five days ago + 3 days: the bar ended two days ago.
    assert sign(volunteer, shift).status == SignupStatus.CONFIRMED
    signup_withdraw(actor=None, signup=Signup.objects.get(shift=shift))
    # Seen from the day after the last no-show, the bar still held.
    back_then = local_at(today - dt.timedelta(days=4), 12)
    refused(
        f"{today - dt.timedelta(days=2)} 前不能报名新的班次",
        volunteer=volunteer,
        shift_id=shift.pk,
        now=back_then,
    )


def test_fewer_no_shows_than_the_limit_do_not_bar(city, settings):
    settings.HUZHU_NO_SHOW_LIMIT = 3
    volunteer = make_volunteer(city.grid_a)
    no_shows(city, volunteer, [10, 5])
    shift = first_shift(make_activity(city.community_b, title="新活动"))
    assert sign(volunteer, shift).status == SignupStatus.CONFIRMED


# --- the organiser signing someone up -------------------------------------------------------


def test_organiser_signup_skips_mode_code_and_team_rules(city):
    team = make_service_team(city.community_a)
    activity = make_activity(team, recruitment="code", invite_code="XYZ789", capacity=1)
    shift = confirm_mode(first_shift(activity))
    leader = UserFactory(username="leader")
    grant(leader, team, Role.TEAM_LEADER)
    a, b = make_volunteer(city.grid_a, "王一"), make_volunteer(city.grid_a, "王二")
    assert sign(a, shift, scope=Scope.for_user(leader)).status == SignupStatus.CONFIRMED
    assert sign(b, shift, scope=Scope.for_user(city.worker_a)).status == SignupStatus.WAITLISTED
    assert count(shift) == 1
    team_only = make_activity(team, title="队内活动", recruitment="team", start=shift.ends_at)
    assert sign(a, first_shift(team_only), scope=SYSTEM).status == SignupStatus.CONFIRMED


def test_scope_without_activity_permission_is_permission_denied(city):
    shift = first_shift(make_activity(city.community_a))
    volunteer = make_volunteer(city.grid_a)
    party = UserFactory(username="party")
    grant(party, city.community_a, Role.PARTY_WORKER)
    for scope in (Scope.for_user(city.worker_b), Scope.for_user(party), Scope.anonymous()):
        before = signup_state()
        with pytest.raises(PermissionDenied):
            signup_create(actor=None, volunteer=volunteer, shift_id=shift.pk, scope=scope)
        assert signup_state() == before


# --- withdrawal ---------------------------------------------------------------------------


def test_withdraw_before_the_deadline_promotes_the_first_waiting(city):
    shift = first_shift(make_activity(city.community_a, capacity=1))
    now = timezone.now()
    a = make_login_volunteer(city.grid_a, "王一", username="v-a")
    b = make_login_volunteer(city.grid_a, "王二", username="v-b")
    c = make_login_volunteer(city.grid_a, "王三", username="v-c")
    first = sign(a, shift, now=now - dt.timedelta(minutes=30))
    sign(c, shift, now=now - dt.timedelta(minutes=10))
    sign(b, shift, now=now - dt.timedelta(minutes=20))
    deadline = shift.starts_at - dt.timedelta(hours=2)
    signup_withdraw(actor=None, signup=first, reason="临时有事", now=deadline)
    first.refresh_from_db()
    assert (first.status, first.note) == (SignupStatus.WITHDRAWN, "临时有事")
    statuses = dict(Signup.objects.values_list("volunteer_id", "status"))
    assert statuses == {a.pk: "withdrawn", b.pk: "confirmed", c.pk: "waitlisted"}
    assert count(shift) == 1
    note = Notification.objects.get(kind="activity.promoted")
    assert note.user.username == "v-b"
    assert note.title == "候补转正：您已报名成功“社区助老活动”"
    entry = AuditEntry.objects.get(verb="signup.withdraw")
    assert entry.data == {"reason": "临时有事", "by_organiser": False, "promoted": 1}


def test_withdraw_after_the_deadline_only_by_the_organiser(city):
    shift = first_shift(make_activity(city.community_a))
    signup = sign(make_volunteer(city.grid_a), shift)
    late = shift.starts_at - dt.timedelta(hours=1)
    deadline = timezone.localtime(shift.starts_at - dt.timedelta(hours=2))
    before = signup_state()
    with pytest.raises(ValidationError) as caught:
        signup_withdraw(actor=None, signup=signup, now=late)
    assert caught.value.messages == [
        f"已过取消截止时间（{deadline:%Y-%m-%d %H:%M}），请联系活动组织者。"
    ]
    assert signup_state() == before
    scope = Scope.for_user(city.worker_a)
    signup_withdraw(actor=city.worker_a, signup=signup, scope=scope, reason="本人来电", now=late)
    signup.refresh_from_db()
    assert signup.status == SignupStatus.WITHDRAWN and count(shift) == 0
    assert AuditEntry.objects.get(verb="signup.withdraw").data["by_organiser"] is True


def test_organiser_cannot_withdraw_after_the_shift(city):
    shift = first_shift(make_activity(city.community_a))
    signup = sign(make_volunteer(city.grid_a), shift)
    before = signup_state()
    with pytest.raises(ValidationError) as caught:
        signup_withdraw(
            actor=None, signup=signup, scope=SYSTEM, now=shift.ends_at + dt.timedelta(minutes=1)
        )
    assert caught.value.messages == ["班次已结束，不能再取消报名。"]
    assert signup_state() == before


def test_withdraw_after_check_in_is_refused_even_for_the_organiser(city):
    shift = first_shift(make_activity(city.community_a))
    volunteer = make_volunteer(city.grid_a)
    signup = sign(volunteer, shift)
    check_in(
        actor=None,
        volunteer_id=volunteer.pk,
        shift_id=shift.pk,
        credential=Credential(method="code", code=shift.checkin_code),
        now=shift.starts_at,
    )
    for scope in (None, SYSTEM):
        before = signup_state()
        with pytest.raises(ValidationError) as caught:
            signup_withdraw(actor=None, signup=signup, scope=scope, now=shift.starts_at)
        assert caught.value.messages == ["已签到，不能取消报名。"]
        assert signup_state() == before


def test_withdrawing_a_waitlisted_or_pending_entry_keeps_the_count(city):
    shift = first_shift(make_activity(city.community_a, capacity=1))
    sign(make_volunteer(city.grid_a, "王一"), shift)
    waiting = sign(make_volunteer(city.grid_a, "王二"), shift)
    assert waiting.status == SignupStatus.WAITLISTED
    signup_withdraw(actor=None, signup=waiting)
    assert count(shift) == 1
    assert not Notification.objects.filter(kind="activity.promoted").exists()
    assert AuditEntry.objects.get(verb="signup.withdraw").data["promoted"] == 0
    other = confirm_mode(first_shift(make_activity(city.community_b, title="乙社区活动")))
    pending = sign(make_volunteer(city.grid_a, "王三"), other)
    signup_withdraw(actor=None, signup=pending)
    assert count(other) == 0


def test_withdrawing_twice_or_outside_scope_is_refused(city):
    shift = first_shift(make_activity(city.community_a))
    signup = sign(make_volunteer(city.grid_a), shift)
    before = signup_state()
    with pytest.raises(PermissionDenied):
        signup_withdraw(actor=None, signup=signup, scope=Scope.for_user(city.worker_b))
    assert signup_state() == before
    signup_withdraw(actor=None, signup=signup)
    before = signup_state()
    with pytest.raises(ValidationError) as caught:
        signup_withdraw(actor=None, signup=signup)
    assert caught.value.messages == ["该报名已不在有效状态，无需取消。"]
    assert signup_state() == before
