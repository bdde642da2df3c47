"""The needs services, step by step: who may post and what is refused, every transition of a
need (and every one refused), invitations, offers to take a need, the thread, and how a
confirmed need pays and records — all through the real services on a real database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from huzhu.activities.models import RecordSource, RecordStatus, ServiceRecord
from huzhu.activities.record_services import record_revoke
from huzhu.needs import services
from huzhu.needs.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    MatchProfile,
    Message,
    Need,
    NeedChannel,
    NeedEvent,
    NeedStatus,
    Payment,
    Urgency,
)
from huzhu.needs.selectors import need_access
from huzhu.needs.services import Confirmation
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.timebank import ledger
from huzhu.timebank.ledger import LedgerRefusal
from huzhu.timebank.models import Account, AccountKind, Transfer, TransferKind
from huzhu.timebank.services import donate, org_account
from huzhu.volunteers.models import (
    Qualification,
    QualificationType,
    Volunteer,
    VolunteerStatus,
)
from tests.activities.factories import make_minor_volunteer, make_volunteer
from tests.factories import City, grant, make_org
from tests.needs.factories import (
    access_for,
    give_credits,
    helper_volunteer,
    make_resident,
    need_category,
    need_input,
    post_need,
    set_place,
    tomorrow_at,
)

pytestmark = pytest.mark.django_db

TITLE = "帮我买菜，腿脚不方便下楼"


@pytest.fixture
def city() -> City:
    city = City()
    set_place(city.community_a, 36.660, 117.020)
    set_place(city.community_b, 36.670, 117.030)
    return city


@dataclass
class Flow:
    city: City
    resident: object
    volunteer: object
    need: Need

    def access(self, user):
        return access_for(user, self.need)

    @property
    def worker(self):
        return self.city.worker_a

    @property
    def helper(self):
        return self.volunteer.person.user

    @property
    def grandma(self):
        return self.resident.user

    def reload(self) -> Need:
        self.need = Need.objects.get(pk=self.need.pk)
        return self.need


def open_need(city: City, credits: int = 300, **overrides) -> Flow:
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    if credits:
        give_credits(resident, credits)
    volunteer = helper_volunteer(city.grid_a, "李近", "near", place=(36.661, 117.021))
    need = post_need(city.worker_a, resident, **overrides)
    return Flow(city, resident, volunteer, need)


def matched_need(city: City, credits: int = 300, **overrides) -> Flow:
    flow = open_need(city, credits, **overrides)
    services.need_invite(
        actor=flow.worker, access=flow.access(flow.worker), volunteer_ids=[flow.volunteer.pk]
    )
    services.invitation_accept(actor=flow.helper, invitation=flow.volunteer.invitations.get())
    flow.reload()
    return flow


def done_need(city: City, minutes: int = 75, **overrides) -> Flow:
    flow = matched_need(city, **overrides)
    services.need_mark_done(actor=flow.helper, access=flow.access(flow.helper), minutes=minutes)
    flow.reload()
    return flow


def events(need: Need) -> list[tuple[str, str, str, str]]:
    return list(
        NeedEvent.objects.filter(need=need)
        .order_by("pk")
        .values_list("verb", "from_status", "to_status", "actor_label")
    )


def balance(person) -> int:
    account = Account.objects.filter(person=person).first()
    return account.balance if account else 0


# --- posting -------------------------------------------------------------------------------


def test_a_resident_posts_for_themself(city):
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    give_credits(resident, 120)
    need = services.need_create(
        actor=resident.user,
        scope=Scope.for_user(resident.user),
        data=need_input(),
        requester=resident,
    )
    need = Need.objects.get(pk=need.pk)
    assert (need.channel, need.requester, need.posted_by, need.org) == (
        NeedChannel.SELF,
        resident,
        resident.user,
        city.grid_a,
    )
    assert (need.status, need.title, need.minutes, need.payment) == (
        NeedStatus.OPEN,
        TITLE,
        60,
        Payment.REQUESTER,
    )
    assert need.category.name == "助餐"
    assert [c.name for c in need.extra_categories.all()] == ["跑腿代办"]
    assert need.number == f"XQ{timezone.localdate().year}00000001"
    # the grid has no place of its own: the community's centre
    assert (need.latitude, need.longitude) == (36.660, 117.020)
    assert events(need) == [("post", "", "open", "grandma")]
    assert need.events.get().note == "本人发布"


def test_a_worker_posts_for_a_resident_of_their_community(city):
    resident = make_resident(city.grid_a, "王奶奶")
    give_credits(resident, 60)
    set_place(city.grid_a, 36.665, 117.025)
    need = post_need(city.worker_a, resident)
    assert (need.channel, need.posted_by, need.requester) == (
        NeedChannel.WORKER,
        city.worker_a,
        resident,
    )
    assert (need.latitude, need.longitude) == (36.665, 117.025)  # the grid's own centre
    assert need.events.get().note == "工作人员代发"


def test_a_marked_place_is_kept(city):
    resident = make_resident(city.grid_a)
    give_credits(resident, 60)
    need = post_need(city.worker_a, resident, latitude=36.7, longitude=117.1)
    assert (need.latitude, need.longitude) == (36.7, 117.1)


def test_worker_b_may_not_post_for_a_resident_of_community_a(city):
    resident = make_resident(city.grid_a)
    give_credits(resident, 60)
    with pytest.raises(PermissionDenied) as refused:
        post_need(city.worker_b, resident)
    assert str(refused.value) == "没有在该社区办理需求对接的权限。"
    assert not Need.objects.exists()


def test_a_resident_may_not_post_for_a_neighbour(city):
    neighbour = make_resident(city.grid_a, "赵大爷")
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    with pytest.raises(PermissionDenied):
        services.need_create(
            actor=resident.user,
            scope=Scope.for_user(resident.user),
            data=need_input(payment=Payment.NONE),
            requester=neighbour,
        )
    assert not Need.objects.exists()


def test_an_org_posts_a_free_need_but_not_one_paid_by_a_requester(city):
    need = post_need(city.worker_a, org=city.community_a, payment=Payment.POOL)
    assert (need.channel, need.requester, need.org) == (NeedChannel.ORG, None, city.community_a)
    with pytest.raises(ValidationError) as refused:
        post_need(city.worker_a, org=city.community_a, payment=Payment.REQUESTER)
    assert refused.value.message_dict == {
        "payment": ["组织发布的需求只能是公益（互助池支付或不计时间币）。"]
    }
    with pytest.raises(ValidationError) as refused:
        post_need(city.worker_a)
    assert refused.value.message_dict == {"org": ["请选择发布需求的社区。"]}
    with pytest.raises(PermissionDenied):
        post_need(city.worker_b, org=city.community_a, payment=Payment.POOL)
    assert Need.objects.count() == 1


def _window(hours_from_now: float, length: dt.timedelta) -> dict[str, dt.datetime]:
    start = timezone.now() + dt.timedelta(hours=hours_from_now)
    return {"starts_at": start, "ends_at": start + length}


BAD_INPUT = [
    (
        _window(-2, dt.timedelta(hours=3)),
        {"starts_at": ["开始时间已过去，请选择现在或以后的时间。"]},
    ),
    (
        {"starts_at": tomorrow_at(9)[0], "ends_at": tomorrow_at(8)[0]},
        {"ends_at": ["结束时间须晚于开始时间。"]},
    ),
    (
        {"starts_at": tomorrow_at(9)[0], "ends_at": tomorrow_at(9)[0]},
        {"ends_at": ["结束时间须晚于开始时间。"]},
    ),
    (
        _window(24, dt.timedelta(days=7, minutes=1)),
        {"ends_at": ["时间段最长 7 天，请分开发布。"]},
    ),
    ({"description": "   "}, {"description": ["请说明需要什么帮助。"]}),
    ({"address": " "}, {"address": ["请填写服务地点。"]}),
    (
        {"description": "嗯嗯嗯，你好"},
        {"category": ["未能从描述中识别需求类别，请选择一个类别。"]},
    ),
    (
        {"description": "嗯嗯嗯，你好", "address": ""},
        {
            "address": ["请填写服务地点。"],
            "category": ["未能从描述中识别需求类别，请选择一个类别。"],
        },
    ),
    ({"minutes": 0}, {"minutes": ["预计时长应在 1 分钟到 24 小时之间。"]}),
    ({"minutes": 24 * 60 + 1}, {"minutes": ["预计时长应在 1 分钟到 24 小时之间。"]}),
    ({"urgency": "panic"}, {"urgency": ["紧急程度无效。"]}),
    ({"payment": "cash"}, {"payment": ["支付方式无效。"]}),
    ({"latitude": 36.6}, {"latitude": ["经纬度须同时填写。"]}),
    ({"latitude": 96.0, "longitude": 117.0}, {"latitude": ["经纬度超出范围。"]}),
    ({"qualification_ids": [999_999]}, {"qualification_ids": ["所需证书不存在或已停用。"]}),
]


@pytest.mark.parametrize(("overrides", "errors"), BAD_INPUT)
def test_bad_input_is_refused_on_its_field_and_nothing_is_stored(city, overrides, errors):
    resident = make_resident(city.grid_a)
    give_credits(resident, 600)
    with pytest.raises(ValidationError) as refused:
        post_need(city.worker_a, resident, **overrides)
    assert refused.value.message_dict == errors
    assert not Need.objects.exists()
    assert not NeedEvent.objects.exists()


def test_a_seven_day_window_and_a_start_just_now_are_accepted(city):
    resident = make_resident(city.grid_a)
    give_credits(resident, 600)
    need = post_need(city.worker_a, resident, **_window(0, dt.timedelta(days=7)))
    assert need.ends_at - need.starts_at == dt.timedelta(days=7)


def test_a_chosen_category_is_kept_and_the_suggestions_become_extras(city):
    resident = make_resident(city.grid_a)
    give_credits(resident, 600)
    need = post_need(city.worker_a, resident, category=need_category("跑腿代办"), minutes=None)
    assert need.category.name == "跑腿代办"
    assert [c.name for c in need.extra_categories.all()] == ["助餐"]
    assert need.minutes == 60  # the category's default
    other = post_need(city.worker_a, resident, description="嗯嗯", category=need_category("理发"))
    assert (other.category.name, list(other.extra_categories.all())) == ("理发", [])
    assert other.minutes == 60
    cut = post_need(city.worker_a, resident, description="想剪头发", minutes=None)
    assert (cut.category.name, cut.minutes) == ("理发", 30)


def test_an_inactive_category_is_refused(city):
    resident = make_resident(city.grid_a)
    give_credits(resident, 600)
    category = need_category("理发")
    category.is_active = False
    category.save()
    with pytest.raises(ValidationError) as refused:
        post_need(city.worker_a, resident, category=category)
    assert refused.value.message_dict == {"category": ["该需求类别已停用。"]}


def test_paying_without_balance_is_refused_when_posting_with_the_figures(city):
    resident = make_resident(city.grid_a)
    give_credits(resident, 30)
    with pytest.raises(ValidationError) as refused:
        post_need(city.worker_a, resident, minutes=90)
    assert refused.value.message_dict == {
        "payment": [
            "时间币余额不足：现有 0.5 小时，本次预计需要 1.5 小时。"
            "可选择“公益（互助池支付）”，或先请家人转赠。"
        ]
    }
    nobody = make_resident(city.grid_a, "赵大爷")  # no account at all
    with pytest.raises(ValidationError) as refused:
        post_need(city.worker_a, nobody, minutes=61)
    assert refused.value.message_dict["payment"][0].startswith(
        "时间币余额不足：现有 0 小时，本次预计需要 1.02 小时。"
    )
    assert not Need.objects.exists()
    # free help needs no balance
    assert post_need(city.worker_a, nobody, payment=Payment.POOL).payment == Payment.POOL
    assert post_need(city.worker_a, nobody, payment=Payment.NONE).payment == Payment.NONE
    # exactly enough is enough
    assert post_need(city.worker_a, resident, minutes=30).minutes == 30


def test_the_credit_line_counts_and_the_age_rule_is_told_at_posting(city, settings):
    resident = make_resident(city.grid_a)
    account = Account.objects.create(
        kind=AccountKind.PERSON, person=resident, org=city.community_a, credit_limit=120
    )
    assert post_need(city.worker_a, resident, minutes=120).minutes == 120
    account.credit_limit = 0
    account.save()
    settings.HUZHU_TIMEBANK_MIN_REDEEM_AGE = 80  # the resident was born in 1948
    give_credits(resident, 600)
    with pytest.raises(ValidationError) as refused:
        post_need(city.worker_a, resident)
    assert refused.value.message_dict == {
        "payment": ["年满 80 周岁方可用时间币兑换服务，可选择“公益（互助池支付）”。"]
    }


def test_phone_numbers_in_a_description_are_hidden(city):
    resident = make_resident(city.grid_a)
    give_credits(resident, 600)
    need = post_need(city.worker_a, resident, description="帮我买菜，有事打 139 1234 5678")
    assert need.description == "帮我买菜，有事打 [号码已隐藏]"
    assert need.title == "帮我买菜，有事打 [号码已隐藏]"


def test_a_need_is_edited_while_open_and_keeps_a_place(city):
    flow = open_need(city)
    data = need_input(description="陪我去医院看病", minutes=120)
    need = services.need_update(actor=flow.worker, access=flow.access(flow.worker), data=data)
    need = Need.objects.get(pk=need.pk)
    assert (need.category.name, need.title, need.minutes) == ("助医陪诊", "陪我去医院看病", 120)
    assert (need.latitude, need.longitude) == (36.660, 117.020)
    assert events(need)[-1] == ("update", "", "", "worker-a")
    with pytest.raises(PermissionDenied):
        services.need_update(actor=flow.helper, access=flow.access(flow.helper), data=data)
    with pytest.raises(ValidationError) as refused:
        services.need_update(
            actor=flow.worker, access=flow.access(flow.worker), data=need_input(minutes=600)
        )
    assert refused.value.message_dict["payment"][0].startswith(
        "时间币余额不足：现有 5 小时，本次预计需要 10 小时。"
    )
    assert Need.objects.get(pk=need.pk).minutes == 120


def test_a_matched_need_can_no_longer_be_edited(city):
    flow = matched_need(city)
    with pytest.raises(ValidationError) as refused:
        services.need_update(actor=flow.worker, access=flow.access(flow.worker), data=need_input())
    assert refused.value.messages == [f"需求{flow.need.number}当前为“已匹配”，不能再修改。"]


# --- the whole life of a need -------------------------------------------------------------


def test_every_step_is_an_event_with_from_to_and_actor(city):
    flow = matched_need(city)
    helper, grandma, worker = flow.helper, flow.grandma, flow.worker
    services.need_start(actor=helper, access=flow.access(helper))
    services.need_mark_done(actor=helper, access=flow.access(helper), minutes=60, note="买好了")
    services.need_dispute(actor=grandma, access=flow.access(grandma), reason="少买了鸡蛋")
    assert flow.reload().status == NeedStatus.DISPUTED
    services.dispute_return(actor=worker, access=flow.access(worker), note="请补买鸡蛋")
    assert flow.reload().status == NeedStatus.IN_SERVICE
    services.need_mark_done(actor=helper, access=flow.access(helper), minutes=80)
    services.need_confirm(actor=grandma, access=flow.access(grandma), data=Confirmation(rating=4))
    need = flow.reload()
    assert need.status == NeedStatus.DONE
    assert (need.actual_minutes, need.rating, need.dispute_reason) == (80, 4, "少买了鸡蛋")
    assert events(need) == [
        ("post", "", "open", "worker-a"),
        ("invite", "", "", "worker-a"),
        ("match", "open", "matched", "near"),
        ("start", "matched", "in_service", "near"),
        ("done", "in_service", "awaiting", "near"),
        ("dispute", "awaiting", "disputed", "grandma"),
        ("dispute_return", "disputed", "in_service", "worker-a"),
        ("done", "in_service", "awaiting", "near"),
        ("confirm", "awaiting", "done", "grandma"),
    ]
    notes = list(need.events.order_by("pk").values_list("note", flat=True))
    assert notes[1:5] == ["李*", "李*", "", "服务 60 分钟"]
    assert notes[5:] == ["少买了鸡蛋", "请补买鸡蛋", "服务 80 分钟", "评分 4"]
    assert list(need.messages.filter(role="system").values_list("body", flat=True)) == [
        "志愿者 李* 已承接此需求，可在此留言沟通。",
        "工作人员处理意见：请补买鸡蛋",
    ]
    assert balance(flow.resident) == 300 - 80
    assert balance(flow.volunteer.person) == 80


def test_done_straight_from_matched_counts_as_started(city):
    flow = matched_need(city)
    services.need_mark_done(actor=flow.helper, access=flow.access(flow.helper), minutes=45)
    need = flow.reload()
    assert (need.status, need.actual_minutes) == (NeedStatus.AWAITING, 45)
    assert need.started_at == need.done_at


def _status_refusal(flow: Flow, step, status_label: str, message: str) -> None:
    before = (flow.reload().status, NeedEvent.objects.count())
    with pytest.raises(ValidationError) as refused:
        step()
    assert refused.value.messages == [message % {"n": flow.need.number, "s": status_label}]
    assert (flow.reload().status, NeedEvent.objects.count()) == before


def test_steps_out_of_order_are_refused_with_the_status_named(city):
    flow = matched_need(city)
    helper, grandma, worker = flow.helper, flow.grandma, flow.worker

    def confirm():
        services.need_confirm(actor=grandma, access=flow.access(grandma), data=Confirmation())

    def dispute():
        services.need_dispute(actor=grandma, access=flow.access(grandma), reason="不满意")

    def dispute_return():
        services.dispute_return(actor=worker, access=flow.access(worker), note="处理")

    _status_refusal(flow, confirm, "已匹配", "需求%(n)s当前为“%(s)s”，不能确认完成。")
    _status_refusal(flow, dispute, "已匹配", "需求%(n)s当前为“%(s)s”，不能提出异议。")
    _status_refusal(flow, dispute_return, "已匹配", "需求%(n)s当前为“%(s)s”，没有待处理的异议。")
    services.need_start(actor=helper, access=flow.access(helper))
    _status_refusal(
        flow,
        lambda: services.need_start(actor=helper, access=flow.access(helper)),
        "服务中",
        "需求%(n)s当前为“%(s)s”，不能开始服务。",
    )
    _status_refusal(
        flow,
        lambda: services.need_cancel(actor=grandma, access=flow.access(grandma), reason="不要了"),
        "服务中",
        "需求%(n)s当前为“%(s)s”，服务已开始，不能取消；如有问题请提出异议。",
    )
    services.need_mark_done(actor=helper, access=flow.access(helper), minutes=60)
    _status_refusal(
        flow,
        lambda: services.need_mark_done(actor=helper, access=flow.access(helper), minutes=60),
        "待确认",
        "需求%(n)s当前为“%(s)s”，不能标记完成。",
    )
    confirm()
    _status_refusal(flow, confirm, "已完成", "需求%(n)s当前为“%(s)s”，不能确认完成。")
    _status_refusal(
        flow,
        lambda: services.need_cancel(actor=worker, access=flow.access(worker), reason="撤销"),
        "已完成",
        "需求%(n)s已是“%(s)s”，不能再取消。",
    )


def test_only_the_volunteer_does_the_work_and_only_requester_or_worker_confirm(city):
    flow = open_need(city)
    with pytest.raises(PermissionDenied) as refused:  # done before it was matched
        services.need_mark_done(actor=flow.helper, access=flow.access(flow.helper), minutes=30)
    assert str(refused.value) == "只有承接此需求的志愿者可以操作。"
    services.need_invite(
        actor=flow.worker, access=flow.access(flow.worker), volunteer_ids=[flow.volunteer.pk]
    )
    services.invitation_accept(actor=flow.helper, invitation=flow.volunteer.invitations.get())
    for user in (flow.worker, flow.grandma):
        with pytest.raises(PermissionDenied):
            services.need_start(actor=user, access=flow.access(user))
    services.need_mark_done(actor=flow.helper, access=flow.access(flow.helper), minutes=30)
    with pytest.raises(PermissionDenied) as refused:
        services.need_confirm(
            actor=flow.helper, access=flow.access(flow.helper), data=Confirmation(rating=5)
        )
    assert str(refused.value) == "只有求助人或工作人员可以确认完成。"
    with pytest.raises(PermissionDenied):
        services.need_dispute(actor=flow.helper, access=flow.access(flow.helper), reason="x")
    with pytest.raises(PermissionDenied) as refused:
        services.dispute_return(actor=flow.grandma, access=flow.access(flow.grandma), note="x")
    assert str(refused.value) == "只有工作人员可以处理异议。"
    assert flow.reload().status == NeedStatus.AWAITING


def test_confirm_and_mark_done_check_their_figures(city):
    flow = done_need(city)
    grandma = flow.grandma
    with pytest.raises(ValidationError) as refused:
        services.need_confirm(actor=grandma, access=flow.access(grandma), data=Confirmation(6))
    assert refused.value.message_dict == {"rating": ["评分应为 1 到 5 星。"]}
    with pytest.raises(PermissionDenied) as refused:
        services.need_confirm(
            actor=grandma, access=flow.access(grandma), data=Confirmation(minutes=30)
        )
    assert str(refused.value) == "只有工作人员可以调整服务时长。"
    with pytest.raises(ValidationError) as refused:
        services.need_dispute(actor=grandma, access=flow.access(grandma), reason=" ")
    assert refused.value.message_dict == {"reason": ["请说明异议内容。"]}
    flow2 = matched_need_for_second_volunteer(city)
    with pytest.raises(ValidationError) as refused:
        services.need_mark_done(actor=flow2.helper, access=flow2.access(flow2.helper), minutes=0)
    assert refused.value.message_dict == {"minutes": ["服务时长应在 1 分钟到 24 小时之间。"]}


def matched_need_for_second_volunteer(city: City) -> Flow:
    resident = make_resident(city.grid_b, "孙奶奶")
    volunteer = helper_volunteer(city.grid_b, "周乙", "zhou", place=(36.671, 117.031))
    need = post_need(city.worker_b, resident, payment=Payment.NONE)
    services.need_invite(
        actor=city.worker_b, access=access_for(city.worker_b, need), volunteer_ids=[volunteer.pk]
    )
    services.invitation_accept(actor=volunteer.person.user, invitation=volunteer.invitations.get())
    return Flow(city, resident, volunteer, Need.objects.get(pk=need.pk))


def test_dispute_then_close_cancels_without_payment_or_record(city):
    flow = done_need(city)
    services.need_dispute(actor=flow.grandma, access=flow.access(flow.grandma), reason="没来")
    with pytest.raises(ValidationError) as refused:
        services.dispute_close(actor=flow.worker, access=flow.access(flow.worker), note="")
    assert refused.value.message_dict == {"note": ["请写明处理意见。"]}
    services.dispute_close(actor=flow.worker, access=flow.access(flow.worker), note="核实未服务")
    need = flow.reload()
    assert (need.status, need.cancel_reason, need.record) == (
        NeedStatus.CANCELLED,
        "核实未服务",
        None,
    )
    assert events(need)[-1] == ("dispute_close", "disputed", "cancelled", "worker-a")
    assert not ServiceRecord.objects.exists()
    assert not Transfer.objects.filter(kind=TransferKind.SPEND).exists()
    assert balance(flow.resident) == 300
    assert set(MatchProfile.objects.filter(volunteer=flow.volunteer).values_list("load")) == {(0,)}


def test_a_worker_settles_a_dispute_with_other_minutes_and_the_residents_consent(city):
    flow = done_need(city, minutes=120)
    services.need_dispute(actor=flow.grandma, access=flow.access(flow.grandma), reason="太长")
    worker = flow.access(flow.worker)
    with pytest.raises(ValidationError) as refused:
        services.need_confirm(actor=flow.worker, access=worker, data=Confirmation(minutes=90))
    assert refused.value.message_dict == {
        "consent": ["代为确认并支付时间币，须记录求助人的同意（如“本人电话同意”）。"]
    }
    services.need_confirm(
        actor=flow.worker,
        access=flow.access(flow.worker),
        data=Confirmation(minutes=90, consent="本人电话同意", rating=3),
    )
    need = flow.reload()
    assert (need.status, need.actual_minutes) == (NeedStatus.DONE, 90)
    assert events(need)[-1] == ("confirm", "disputed", "done", "worker-a")
    transfer = need.transfer
    assert (transfer.kind, transfer.on_behalf, transfer.consent, transfer.record) == (
        TransferKind.SPEND,
        True,
        "本人电话同意",
        need.record,
    )
    assert (balance(flow.resident), balance(flow.volunteer.person)) == (210, 90)


def test_a_worker_who_served_the_need_may_not_confirm_it(city):
    resident = make_resident(city.grid_a, "王奶奶")
    give_credits(resident, 300)
    volunteer = helper_volunteer(city.grid_a, "周工", "zhou", place=(36.661, 117.021))
    grant(volunteer.person.user, city.community_a, Role.WORKER)
    need = post_need(city.worker_a, resident)
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, need), volunteer_ids=[volunteer.pk]
    )
    services.invitation_accept(actor=volunteer.person.user, invitation=volunteer.invitations.get())
    user = volunteer.person.user
    services.need_mark_done(actor=user, access=access_for(user, need), minutes=60)
    with pytest.raises(PermissionDenied) as refused:
        services.need_confirm(
            actor=user, access=access_for(user, need), data=Confirmation(consent="同意")
        )
    assert str(refused.value) == "不能确认自己承接的需求，请由其他工作人员确认。"
    assert Need.objects.get(pk=need.pk).status == NeedStatus.AWAITING


# --- cancelling ----------------------------------------------------------------------------


def test_cancelling_an_open_need_withdraws_its_invitations(city):
    flow = open_need(city)
    other = helper_volunteer(city.grid_a, "赵远", "far", place=(36.690, 117.060))
    services.need_invite(
        actor=flow.worker,
        access=flow.access(flow.worker),
        volunteer_ids=[flow.volunteer.pk, other.pk],
    )
    with pytest.raises(ValidationError) as refused:
        services.need_cancel(actor=flow.grandma, access=flow.access(flow.grandma), reason=" ")
    assert refused.value.message_dict == {"reason": ["请说明取消原因。"]}
    with pytest.raises(PermissionDenied):
        services.need_cancel(actor=flow.helper, access=flow.access(flow.helper), reason="x")
    services.need_cancel(actor=flow.grandma, access=flow.access(flow.grandma), reason="家人来了")
    need = flow.reload()
    assert (need.status, need.cancel_reason) == (NeedStatus.CANCELLED, "家人来了")
    assert need.closed_at is not None
    assert set(need.invitations.values_list("status", flat=True)) == {InvitationStatus.WITHDRAWN}
    assert events(need)[-1] == ("cancel", "open", "cancelled", "grandma")


def test_cancelling_a_matched_need_frees_the_volunteer(city):
    flow = matched_need(city)
    assert set(MatchProfile.objects.filter(volunteer=flow.volunteer).values_list("load")) == {(1,)}
    services.need_cancel(actor=flow.worker, access=flow.access(flow.worker), reason="已住院")
    need = flow.reload()
    assert events(need)[-1] == ("cancel", "matched", "cancelled", "worker-a")
    assert set(MatchProfile.objects.filter(volunteer=flow.volunteer).values_list("load")) == {(0,)}
    with pytest.raises(ValidationError) as refused:
        services.need_cancel(actor=flow.worker, access=flow.access(flow.worker), reason="再次")
    assert refused.value.messages == [f"需求{need.number}已是“已取消”，不能再取消。"]


# --- paying and recording ------------------------------------------------------------------


def test_confirmation_pays_from_the_requester_and_records_the_service(city):
    flow = done_need(city, minutes=75)
    services.need_confirm(
        actor=flow.grandma,
        access=flow.access(flow.grandma),
        data=Confirmation(rating=2, comment="来晚了，电话13912345678"),
    )
    need = flow.reload()
    record = ServiceRecord.objects.get()
    assert need.record == record
    assert (need.rating, need.rating_comment) == (2, "来晚了，电话[号码已隐藏]")
    assert (record.volunteer, record.org, record.source, record.status) == (
        flow.volunteer,
        city.community_a,
        RecordSource.NEED,
        RecordStatus.CONFIRMED,
    )
    assert (record.minutes, record.category.name, record.rating, record.place) == (
        75,
        "社区服务",
        1,  # 2 stars is 不合格
        "甲社区 3 号楼 2 单元 501",
    )
    assert record.content == f"需求对接：{TITLE}（{need.number}）"
    assert record.served_on == timezone.localdate()
    assert record.evaluation == "来晚了，电话[号码已隐藏]"
    spend = Transfer.objects.get(kind=TransferKind.SPEND)
    assert (need.transfer, spend.record, spend.idempotency_key, spend.on_behalf) == (
        spend,
        record,
        f"need:{need.pk}",
        False,
    )
    assert spend.consent == "本人在线确认"
    assert not Transfer.objects.filter(kind=TransferKind.EARN).exists()  # not from issuance
    assert (balance(flow.resident), balance(flow.volunteer.person)) == (300 - 75, 75)
    flow.volunteer.refresh_from_db()
    assert flow.volunteer.recorded_minutes == 75
    assert ledger.verify().ok


def test_a_balance_spent_meanwhile_refuses_the_confirmation_and_nothing_is_kept(city):
    flow = matched_need(city, credits=60)
    services.need_mark_done(actor=flow.helper, access=flow.access(flow.helper), minutes=60)
    donate(actor=flow.grandma, sender=flow.resident, minutes=30)  # spent in the meantime
    with pytest.raises(LedgerRefusal) as refused:
        services.need_confirm(
            actor=flow.grandma, access=flow.access(flow.grandma), data=Confirmation(rating=5)
        )
    assert refused.value.rule == "balance.insufficient"
    assert refused.value.messages[0].startswith("余额不足：")
    need = flow.reload()
    assert (need.status, need.record, need.transfer, need.rating) == (
        NeedStatus.AWAITING,
        None,
        None,
        None,
    )
    assert not ServiceRecord.objects.exists()
    assert not Transfer.objects.filter(kind=TransferKind.SPEND).exists()
    assert not need.events.filter(verb="confirm").exists()
    assert (balance(flow.resident), balance(flow.volunteer.person)) == (30, 0)
    # topped up, the same confirmation goes through
    give_credits(flow.resident, 30)
    services.need_confirm(
        actor=flow.grandma, access=flow.access(flow.grandma), data=Confirmation(rating=5)
    )
    assert flow.reload().status == NeedStatus.DONE
    assert (balance(flow.resident), balance(flow.volunteer.person)) == (0, 60)


def test_pool_payment_comes_from_donations(city):
    donor = make_resident(city.grid_a, "钱大爷")
    give_credits(donor, 300)
    donate(actor=None, sender=donor, minutes=100)
    pool = org_account(city.community_a, AccountKind.POOL)
    assert Account.objects.get(pk=pool.pk).balance == 100
    flow = done_need(city, minutes=70, payment=Payment.POOL)
    services.need_confirm(
        actor=flow.grandma, access=flow.access(flow.grandma), data=Confirmation(rating=5)
    )
    need = flow.reload()
    assert need.transfer.record == need.record
    assert Account.objects.get(pk=pool.pk).balance == 30
    assert (balance(flow.resident), balance(flow.volunteer.person)) == (300, 70)


def test_an_empty_pool_refuses_the_confirmation(city):
    flow = done_need(city, minutes=70, payment=Payment.POOL)
    with pytest.raises(LedgerRefusal) as refused:
        services.need_confirm(
            actor=flow.grandma, access=flow.access(flow.grandma), data=Confirmation()
        )
    assert refused.value.rule == "pool.balance"
    assert refused.value.messages == ["社区互助池余额不足：现有 0 小时，需要 1.17 小时。"]
    assert flow.reload().status == NeedStatus.AWAITING
    assert not ServiceRecord.objects.exists()


def test_free_help_is_recorded_without_a_transfer(city):
    flow = done_need(city, minutes=50, payment=Payment.NONE)
    services.need_confirm(
        actor=flow.worker, access=flow.access(flow.worker), data=Confirmation(rating=5)
    )
    need = flow.reload()
    assert (need.status, need.transfer) == (NeedStatus.DONE, None)
    assert (need.record.minutes, need.record.rating) == (50, 5)
    assert not Transfer.objects.filter(kind=TransferKind.SPEND).exists()
    assert not Account.objects.filter(person=flow.volunteer.person, balance__gt=0).exists()


def test_revoking_the_record_refunds_the_requester(city):
    flow = done_need(city, minutes=75)
    services.need_confirm(actor=flow.grandma, access=flow.access(flow.grandma), data=Confirmation())
    record = flow.reload().record
    record_revoke(
        actor=flow.worker, scope=Scope.for_user(flow.worker), record=record, reason="时长不实"
    )
    record.refresh_from_db()
    assert record.status == RecordStatus.REVOKED
    assert (balance(flow.resident), balance(flow.volunteer.person)) == (300, 0)
    reversal = Transfer.objects.get(kind=TransferKind.REVERSE)
    assert reversal.reversal_of == flow.need.transfer
    flow.volunteer.refresh_from_db()
    assert flow.volunteer.recorded_minutes == 0
    assert ledger.verify().ok


def test_revoking_is_refused_when_the_volunteer_spent_the_credits(city):
    flow = done_need(city, minutes=75)
    services.need_confirm(actor=flow.grandma, access=flow.access(flow.grandma), data=Confirmation())
    donate(actor=None, sender=flow.volunteer.person, minutes=50)
    record = flow.reload().record
    with pytest.raises(LedgerRefusal) as refused:
        record_revoke(
            actor=flow.worker, scope=Scope.for_user(flow.worker), record=record, reason="不实"
        )
    assert refused.value.rule == "revoke.spent"
    record.refresh_from_db()
    assert record.status == RecordStatus.CONFIRMED
    assert (balance(flow.resident), balance(flow.volunteer.person)) == (225, 25)


# --- invitations ---------------------------------------------------------------------------


def test_accepting_closes_the_other_invitations_and_a_late_accept_is_refused(city):
    flow = open_need(city)
    other = helper_volunteer(city.grid_a, "赵远", "far", place=(36.690, 117.060))
    third = helper_volunteer(city.grid_a, "孙三", "sun", place=(36.662, 117.022))
    services.need_invite(
        actor=flow.worker,
        access=flow.access(flow.worker),
        volunteer_ids=[flow.volunteer.pk, other.pk, third.pk],
    )
    services.invitation_decline(
        actor=third.person.user, invitation=third.invitations.get(), reply="这周出差"
    )
    services.invitation_accept(actor=flow.helper, invitation=flow.volunteer.invitations.get())
    statuses = dict(flow.need.invitations.values_list("volunteer_id", "status"))
    assert statuses == {
        flow.volunteer.pk: InvitationStatus.ACCEPTED,
        other.pk: InvitationStatus.CLOSED,
        third.pk: InvitationStatus.DECLINED,
    }
    with pytest.raises(ValidationError) as refused:
        services.invitation_accept(actor=other.person.user, invitation=other.invitations.get())
    assert refused.value.message_dict == {
        "need": [f"需求{flow.need.number}已由其他志愿者承接或已关闭。"]
    }
    need = flow.reload()
    assert (need.volunteer, need.status) == (flow.volunteer, NeedStatus.MATCHED)
    assert need.events.filter(verb="match").count() == 1


def test_only_the_invited_volunteer_answers_an_invitation(city):
    flow = open_need(city)
    other = helper_volunteer(city.grid_a, "赵远", "far", place=(36.690, 117.060))
    (invitation,) = services.need_invite(
        actor=flow.worker, access=flow.access(flow.worker), volunteer_ids=[flow.volunteer.pk]
    )
    for user in (other.person.user, flow.grandma, flow.worker):
        with pytest.raises(PermissionDenied) as refused:
            services.invitation_accept(actor=user, invitation=invitation)
        assert str(refused.value) == "只能回复发给自己的邀请。"
    with pytest.raises(PermissionDenied):
        services.invitation_decline(actor=other.person.user, invitation=invitation)
    assert Invitation.objects.get(pk=invitation.pk).status == InvitationStatus.PENDING


def test_declining_twice_is_refused_and_the_reply_hides_phone_numbers(city):
    flow = open_need(city)
    (invitation,) = services.need_invite(
        actor=flow.worker, access=flow.access(flow.worker), volunteer_ids=[flow.volunteer.pk]
    )
    services.invitation_decline(
        actor=flow.helper, invitation=invitation, reply="没空，有事打13912345678"
    )
    invitation.refresh_from_db()
    assert (invitation.status, invitation.reply) == (
        InvitationStatus.DECLINED,
        "没空，有事打[号码已隐藏]",
    )
    assert events(flow.need)[-1] == ("decline", "", "", "near")
    assert flow.need.events.order_by("pk").last().note == "李*：没空，有事打[号码已隐藏]"
    with pytest.raises(ValidationError) as refused:
        services.invitation_decline(actor=flow.helper, invitation=invitation)
    assert refused.value.message_dict == {"invitation": ["该邀请已处理。"]}
    with pytest.raises(ValidationError) as refused:
        services.invitation_accept(actor=flow.helper, invitation=invitation)
    assert refused.value.message_dict == {"invitation": ["该邀请已处理。"]}


def test_a_worker_withdraws_an_invitation_only_through_its_own_need(city):
    flow = open_need(city)
    (invitation,) = services.need_invite(
        actor=flow.worker, access=flow.access(flow.worker), volunteer_ids=[flow.volunteer.pk]
    )
    resident = make_resident(city.grid_a, "赵大爷")
    other_need = post_need(city.worker_a, resident, payment=Payment.NONE)
    with pytest.raises(PermissionDenied):
        services.invitation_decline(
            actor=flow.worker, invitation=invitation, access=access_for(flow.worker, other_need)
        )
    services.invitation_decline(
        actor=flow.worker, invitation=invitation, access=flow.access(flow.worker)
    )
    assert Invitation.objects.get(pk=invitation.pk).status == InvitationStatus.WITHDRAWN
    assert events(flow.need)[-1] == ("withdraw", "", "", "worker-a")


def test_the_requester_invites_only_whom_the_ranking_proposes_the_worker_anyone(city):
    flow = open_need(city)
    far = helper_volunteer(city.grid_b, "赵远", "far", place=(37.5, 118.0))
    plain = make_volunteer(city.grid_a, "钱无")  # no offer, no skills: no profile rows
    with pytest.raises(ValidationError) as refused:
        services.need_invite(
            actor=flow.grandma, access=flow.access(flow.grandma), volunteer_ids=[far.pk]
        )
    assert refused.value.message_dict == {"volunteer_ids": ["赵* 不在推荐范围内。"]}
    (mine,) = services.need_invite(
        actor=flow.grandma, access=flow.access(flow.grandma), volunteer_ids=[flow.volunteer.pk]
    )
    assert mine.score is not None and mine.reasons[0] == "发布了“跑腿代办”服务"
    created = services.need_invite(
        actor=flow.worker, access=flow.access(flow.worker), volunteer_ids=[far.pk, plain.pk]
    )
    assert [(i.score, i.reasons) for i in created] == [
        (None, ["由工作人员指定"]),
        (None, ["由工作人员指定"]),
    ]


def test_inviting_checks_its_list(city):
    flow = open_need(city)
    worker = flow.access(flow.worker)
    with pytest.raises(ValidationError) as refused:
        services.need_invite(actor=flow.worker, access=worker, volunteer_ids=[])
    assert refused.value.message_dict == {"volunteer_ids": ["请选择要邀请的志愿者。"]}
    with pytest.raises(ValidationError) as refused:
        services.need_invite(
            actor=flow.worker, access=worker, volunteer_ids=[flow.volunteer.pk], kind="apply"
        )
    assert refused.value.message_dict == {"kind": ["邀请方式无效。"]}
    with pytest.raises(ValidationError) as refused:
        services.need_invite(actor=flow.worker, access=worker, volunteer_ids=[999_999])
    assert refused.value.message_dict == {"volunteer_ids": ["志愿者不存在或未在册：999999"]}
    pending = make_volunteer(city.grid_a, "吴待审")
    pending.status = VolunteerStatus.PENDING
    pending.save()
    with pytest.raises(ValidationError) as refused:
        services.need_invite(actor=flow.worker, access=worker, volunteer_ids=[pending.pk])
    assert refused.value.message_dict == {"volunteer_ids": [f"志愿者不存在或未在册：{pending.pk}"]}
    own = _volunteer_of(flow)
    with pytest.raises(ValidationError) as refused:
        services.need_invite(
            actor=flow.worker, access=worker, volunteer_ids=[flow.volunteer.pk, own.pk]
        )
    assert refused.value.message_dict == {"volunteer_ids": ["不能邀请求助人本人。"]}
    assert not Invitation.objects.exists()
    with pytest.raises(PermissionDenied):
        services.need_invite(
            actor=flow.helper, access=flow.access(flow.helper), volunteer_ids=[flow.volunteer.pk]
        )


def test_the_same_volunteer_is_invited_once(city):
    flow = open_need(city)
    worker = flow.access(flow.worker)
    ids = [flow.volunteer.pk, flow.volunteer.pk]
    assert len(services.need_invite(actor=flow.worker, access=worker, volunteer_ids=ids)) == 1
    assert services.need_invite(actor=flow.worker, access=worker, volunteer_ids=ids) == []
    assert Invitation.objects.count() == 1
    assert flow.need.events.filter(verb="invite").count() == 1


def test_a_need_whose_time_has_passed_takes_no_invitation_or_acceptance(city):
    flow = open_need(city)
    (invitation,) = services.need_invite(
        actor=flow.worker, access=flow.access(flow.worker), volunteer_ids=[flow.volunteer.pk]
    )
    past = timezone.now() - dt.timedelta(hours=1)
    Need.objects.filter(pk=flow.need.pk).update(
        starts_at=past - dt.timedelta(hours=2), ends_at=past
    )
    with pytest.raises(ValidationError) as refused:
        services.invitation_accept(actor=flow.helper, invitation=invitation)
    assert refused.value.message_dict == {
        "need": [f"需求{flow.need.number}的时间已过，请联系工作人员重新安排。"]
    }
    other = helper_volunteer(city.grid_a, "赵远", "far", place=(36.690, 117.060))
    with pytest.raises(ValidationError) as refused:
        services.need_invite(
            actor=flow.worker, access=flow.access(flow.worker), volunteer_ids=[other.pk]
        )
    assert refused.value.message_dict == {
        "need": [f"需求{flow.need.number}的时间已过，请先修改服务时间。"]
    }
    assert flow.reload().status == NeedStatus.OPEN


def test_a_volunteer_suspended_after_the_invitation_cannot_accept(city):
    flow = open_need(city)
    (invitation,) = services.need_invite(
        actor=flow.worker, access=flow.access(flow.worker), volunteer_ids=[flow.volunteer.pk]
    )
    flow.volunteer.status = VolunteerStatus.SUSPENDED
    flow.volunteer.save()
    with pytest.raises(PermissionDenied) as refused:
        services.invitation_accept(actor=flow.helper, invitation=invitation)
    assert str(refused.value) == "只有在册志愿者可以承接需求。"


def test_broadcast_goes_to_the_top_candidates_of_an_urgent_need(city, settings):
    flow = open_need(city, urgency=Urgency.URGENT)
    second = helper_volunteer(city.grid_a, "赵二", "zhao", place=(36.670, 117.030))
    third = helper_volunteer(city.grid_a, "孙三", "sun", place=(36.690, 117.060))
    settings.HUZHU_MATCH_BROADCAST_TOP = 2
    created = services.need_broadcast(actor=flow.worker, access=flow.access(flow.worker))
    assert [(i.volunteer_id, i.kind) for i in created] == [
        (flow.volunteer.pk, InvitationKind.BROADCAST),
        (second.pk, InvitationKind.BROADCAST),
    ]
    assert events(flow.need)[-1] == ("broadcast", "", "", "worker-a")
    (more,) = services.need_broadcast(actor=flow.worker, access=flow.access(flow.worker), top=5)
    assert more.volunteer_id == third.pk  # the ones already asked are not asked again
    with pytest.raises(ValidationError) as refused:
        services.need_broadcast(actor=flow.worker, access=flow.access(flow.worker), top=5)
    assert refused.value.message_dict == {"top": ["附近暂无符合条件的志愿者，请工作人员直接联系。"]}
    with pytest.raises(ValidationError) as refused:
        services.need_broadcast(actor=flow.worker, access=flow.access(flow.worker), top=51)
    assert refused.value.message_dict == {"top": ["广播人数应在 1 到 50 之间。"]}


def test_a_normal_need_is_not_broadcast(city):
    flow = open_need(city)
    with pytest.raises(ValidationError) as refused:
        services.need_broadcast(actor=flow.worker, access=flow.access(flow.worker))
    assert refused.value.message_dict == {"urgency": ["只有较急或紧急的需求可以广播。"]}


# --- offering to take a need (自荐) ----------------------------------------------------------


def test_a_volunteer_offers_and_the_requester_approves(city):
    flow = open_need(city)
    application = services.need_apply(
        actor=flow.helper, need=flow.need, volunteer=flow.volunteer, note="我就住隔壁"
    )
    assert (application.kind, application.status, application.reply) == (
        InvitationKind.APPLY,
        InvitationStatus.PENDING,
        "我就住隔壁",
    )
    assert application.reasons[:2] == ["发布了“跑腿代办”服务", "距离约 0.1 公里"]
    with pytest.raises(PermissionDenied) as refused:
        services.invitation_accept(actor=flow.helper, invitation=application)
    assert str(refused.value) == "自荐须由求助人或工作人员确认。"
    with pytest.raises(ValidationError) as refused:
        services.need_apply(actor=flow.helper, need=flow.need, volunteer=flow.volunteer)
    assert refused.value.message_dict == {"need": ["您已回应过这个需求。"]}
    services.application_approve(
        actor=flow.grandma, access=flow.access(flow.grandma), invitation=application
    )
    need = flow.reload()
    assert (need.status, need.volunteer) == (NeedStatus.MATCHED, flow.volunteer)
    assert events(need)[-2:] == [("apply", "", "", "near"), ("match", "open", "matched", "grandma")]


def test_offers_are_refused_to_others_minors_and_strangers(city):
    flow = open_need(city)
    with pytest.raises(PermissionDenied) as refused:  # someone else applying for them
        services.need_apply(actor=flow.worker, need=flow.need, volunteer=flow.volunteer)
    assert str(refused.value) == "只能以本人身份自荐。"
    minor = make_minor_volunteer(city.grid_a, "小明", dt.date(2012, 5, 1), username="kid")
    minor = Volunteer.objects.select_related("person__user").get(pk=minor.pk)
    with pytest.raises(PermissionDenied) as refused:
        services.need_apply(actor=minor.person.user, need=flow.need, volunteer=minor)
    assert str(refused.value) == "未满 18 周岁的志愿者不能自荐承接需求，请联系社区工作人员。"
    other_street = make_org(OrgKind.STREET, "千佛山街道", city.district)
    far_community = make_org(OrgKind.COMMUNITY, "丙社区", other_street)
    stranger = helper_volunteer(far_community, "郑外", "stranger", place=(36.661, 117.021))
    with pytest.raises(ValidationError) as refused:
        services.need_apply(actor=stranger.person.user, need=flow.need, volunteer=stranger)
    assert refused.value.message_dict == {"need": ["只能承接本街道（社区）的需求。"]}
    sibling = helper_volunteer(city.grid_b, "冯邻", "sibling", place=(36.661, 117.021))
    assert services.need_apply(actor=sibling.person.user, need=flow.need, volunteer=sibling)
    with pytest.raises(ValidationError) as refused:
        services.need_apply(actor=flow.grandma, need=flow.need, volunteer=_volunteer_of(flow))
    assert refused.value.message_dict == {"need": ["不能承接自己发布的需求。"]}


def _volunteer_of(flow: Flow):
    """The requester registered as a volunteer too."""
    from huzhu.volunteers.services import RegistrationInput, volunteer_register
    from tests.activities.factories import SYSTEM

    return volunteer_register(
        actor=None,
        scope=SYSTEM,
        org=flow.resident.org,
        data=RegistrationInput(id_number=flow.resident.id_number),
    ).volunteer


def test_the_requester_declines_an_offer(city):
    flow = open_need(city)
    application = services.need_apply(actor=flow.helper, need=flow.need, volunteer=flow.volunteer)
    services.invitation_decline(
        actor=flow.grandma,
        invitation=application,
        access=flow.access(flow.grandma),
        reply="已有家人帮忙",
    )
    application.refresh_from_db()
    assert (application.status, application.reply) == (InvitationStatus.DECLINED, "已有家人帮忙")
    with pytest.raises(ValidationError) as refused:
        services.application_approve(
            actor=flow.grandma, access=flow.access(flow.grandma), invitation=application
        )
    assert refused.value.message_dict == {"invitation": ["该邀请已处理。"]}


def test_a_volunteer_takes_back_their_own_offer(city):
    flow = open_need(city)
    application = services.need_apply(actor=flow.helper, need=flow.need, volunteer=flow.volunteer)
    services.invitation_decline(actor=flow.helper, invitation=application)
    assert Invitation.objects.get(pk=application.pk).status == InvitationStatus.WITHDRAWN


def test_an_invitation_is_not_approved_as_an_offer(city):
    flow = open_need(city)
    (invitation,) = services.need_invite(
        actor=flow.worker, access=flow.access(flow.worker), volunteer_ids=[flow.volunteer.pk]
    )
    with pytest.raises(ValidationError) as refused:
        services.application_approve(
            actor=flow.worker, access=flow.access(flow.worker), invitation=invitation
        )
    assert refused.value.message_dict == {"invitation": ["该自荐不属于此需求。"]}


def test_a_requester_invites_only_qualified_volunteers_when_the_need_asks(city):
    kind = QualificationType.objects.create(name="需求测试护理证")
    flow = open_need(city, qualification_ids=[kind.pk])
    with pytest.raises(ValidationError) as refused:
        services.need_invite(
            actor=flow.grandma, access=flow.access(flow.grandma), volunteer_ids=[flow.volunteer.pk]
        )
    assert refused.value.message_dict == {"volunteer_ids": ["李* 不在推荐范围内。"]}
    Qualification.objects.create(volunteer=flow.volunteer, kind=kind, issued_on=dt.date(2024, 1, 1))
    (invitation,) = services.need_invite(
        actor=flow.grandma, access=flow.access(flow.grandma), volunteer_ids=[flow.volunteer.pk]
    )
    assert invitation.score is not None


# --- the thread ----------------------------------------------------------------------------


def test_the_thread_is_for_requester_volunteer_and_worker(city):
    flow = open_need(city)
    other = helper_volunteer(city.grid_a, "赵远", "far", place=(36.690, 117.060))
    services.need_invite(
        actor=flow.worker,
        access=flow.access(flow.worker),
        volunteer_ids=[flow.volunteer.pk, other.pk],
    )
    with pytest.raises(PermissionDenied) as refused:  # invited, not (yet) the volunteer
        services.message_post(actor=flow.helper, access=flow.access(flow.helper), body="你好")
    assert str(refused.value) == "只有求助人、承接志愿者和工作人员可以留言。"
    services.invitation_accept(actor=flow.helper, invitation=flow.volunteer.invitations.get())
    with pytest.raises(Http404):
        need_access(
            user=other.person.user, scope=Scope.for_user(other.person.user), need_id=flow.need.pk
        )
    with pytest.raises(Http404):
        need_access(user=city.worker_b, scope=Scope.for_user(city.worker_b), need_id=flow.need.pk)
    posted = [
        services.message_post(actor=flow.grandma, access=flow.access(flow.grandma), body="谢谢"),
        services.message_post(actor=flow.helper, access=flow.access(flow.helper), body=" 好的 "),
        services.message_post(actor=flow.worker, access=flow.access(flow.worker), body="收到"),
    ]
    assert [(m.role, m.author_label, m.body) for m in posted] == [
        ("requester", "求助人 王**", "谢谢"),
        ("volunteer", "志愿者 李*", "好的"),
        ("worker", "社区工作人员", "收到"),
    ]
    with pytest.raises(ValidationError) as refused:
        services.message_post(actor=flow.grandma, access=flow.access(flow.grandma), body="  ")
    assert refused.value.message_dict == {"body": ["请输入留言内容。"]}
    with pytest.raises(ValidationError) as refused:
        services.message_post(
            actor=flow.grandma, access=flow.access(flow.grandma), body="长" * 1001
        )
    assert refused.value.message_dict == {"body": ["留言最多 1000 字。"]}


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ("电话 13912345678", "电话 [号码已隐藏]"),
        ("电话139 1234 5678谢谢", "电话[号码已隐藏]谢谢"),
        ("打 +86 139-1234-5678 或 0086 13912345678", "打 [号码已隐藏] 或 [号码已隐藏]"),
        ("我的号１３９１２３４５６７８", "我的号[号码已隐藏]"),
        ("座机 0531-8888 6666", "座机 [号码已隐藏]"),
        ("（0531）88886666", "[号码已隐藏]"),
        ("明天9点到3号楼2单元501，带20元", "明天9点到3号楼2单元501，带20元"),
        ("订单 2026-11-29 共 12345678 元", "订单 2026-11-29 共 12345678 元"),
        ("139123456789 不是手机号", "139123456789 不是手机号"),
    ],
)
def test_phone_numbers_in_messages_are_hidden(city, body, shown):
    flow = matched_need(city)
    message = services.message_post(actor=flow.helper, access=flow.access(flow.helper), body=body)
    assert Message.objects.get(pk=message.pk).body == shown


def test_a_closed_need_takes_no_more_messages(city):
    flow = done_need(city)
    services.need_confirm(actor=flow.grandma, access=flow.access(flow.grandma), data=Confirmation())
    for user in (flow.grandma, flow.helper, flow.worker):
        with pytest.raises(ValidationError) as refused:
            services.message_post(actor=user, access=flow.access(user), body="再说一句")
        assert refused.value.message_dict == {"body": ["需求已办结，留言已关闭。"]}
    assert not Message.objects.filter(body="再说一句").exists()


def test_inviting_many_costs_the_same_queries_as_inviting_one(city):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    flow = open_need(city)
    others = [
        helper_volunteer(city.grid_a, f"李{n}", f"v{n}", place=(36.661, 117.021)) for n in range(6)
    ]
    second = post_need(city.worker_a, make_resident(city.grid_a, "赵大爷"), payment=Payment.NONE)
    counts = []
    for need, ids in ((flow.need, [flow.volunteer.pk]), (second, [v.pk for v in others])):
        access = access_for(flow.worker, need)
        with CaptureQueriesContext(connection) as captured:
            services.need_invite(actor=flow.worker, access=access, volunteer_ids=ids)
        counts.append(len(captured))
    assert counts[0] == counts[1]
    assert Invitation.objects.count() == 7
