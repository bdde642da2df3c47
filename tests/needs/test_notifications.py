"""Who is told what at each step of a need: exact users and titles; never the person who
took the step, and nobody without a login."""

from __future__ import annotations

import pytest

from huzhu.common.models import Notification
from huzhu.needs import services
from huzhu.needs.models import Need, Payment, Urgency
from huzhu.needs.services import Confirmation
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from tests.activities.factories import make_volunteer
from tests.factories import City, UserFactory, grant
from tests.needs.factories import (
    access_for,
    give_credits,
    helper_volunteer,
    make_resident,
    need_input,
    post_need,
    set_place,
)

pytestmark = pytest.mark.django_db

TITLE = "帮我买菜，腿脚不方便下楼"


@pytest.fixture
def city() -> City:
    city = City()
    set_place(city.community_a, 36.660, 117.020)
    city.admin_a = UserFactory(username="admin-a")
    grant(city.admin_a, city.community_a, Role.ADMIN)
    city.grid_worker = UserFactory(username="grid-a")
    grant(city.grid_worker, city.grid_a, Role.WORKER)
    return city


class Inbox:
    """Notifications since the last look."""

    def __init__(self) -> None:
        self.seen = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def new(self) -> list[tuple[str, str, str]]:
        rows = list(
            Notification.objects.filter(pk__gt=self.seen)
            .order_by("pk")
            .values_list("pk", "user__username", "kind", "title")
        )
        if rows:
            self.seen = rows[-1][0]
        return [row[1:] for row in rows]

    def body(self) -> str:
        return Notification.objects.order_by("-pk").first().body


def by_user(rows: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    return set(rows)


@pytest.fixture
def people(city):
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    give_credits(resident, 600)
    near = helper_volunteer(city.grid_a, "李近", "near", place=(36.661, 117.021))
    far = helper_volunteer(city.grid_a, "赵远", "far", place=(36.690, 117.060))
    offline = make_volunteer(city.grid_a, "钱无号")  # no login
    return resident, near, far, offline


def test_a_need_posted_by_a_worker_tells_each_step_to_the_right_people(city, people):
    resident, near, far, offline = people
    inbox = Inbox()
    need = post_need(city.worker_a, resident)
    assert inbox.new() == []  # the worker has it in hand
    worker = access_for(city.worker_a, need)
    services.need_invite(
        actor=city.worker_a, access=worker, volunteer_ids=[near.pk, far.pk, offline.pk]
    )
    assert inbox.new() == [
        ("near", "need.invite", f"邀请您承接：{TITLE}"),
        ("far", "need.invite", f"邀请您承接：{TITLE}"),
    ]
    assert inbox.body().startswith("类别：助餐；时间：")
    services.invitation_decline(
        actor=far.person.user, invitation=far.invitations.get(), reply="在外地"
    )
    assert inbox.new() == [("worker-a", "need.decline", f"志愿者婉拒了邀请：{TITLE}")]
    assert inbox.body() == "在外地"
    helper = near.person.user
    services.invitation_accept(actor=helper, invitation=near.invitations.get())
    assert by_user(inbox.new()) == {
        ("grandma", "need.match", f"需求已匹配：{TITLE}"),
        ("worker-a", "need.match", f"需求已匹配：{TITLE}"),
    }
    services.message_post(actor=helper, access=access_for(helper, need), body="明早到")
    assert by_user(inbox.new()) == {
        ("grandma", "need.message", f"新留言：{TITLE}"),
        ("worker-a", "need.message", f"新留言：{TITLE}"),
    }
    services.message_post(actor=city.worker_a, access=access_for(city.worker_a, need), body="好")
    assert by_user(inbox.new()) == {
        ("grandma", "need.message", f"新留言：{TITLE}"),
        ("near", "need.message", f"新留言：{TITLE}"),
    }
    grandma = resident.user
    services.message_post(actor=grandma, access=access_for(grandma, need), body="谢谢")
    assert by_user(inbox.new()) == {
        ("near", "need.message", f"新留言：{TITLE}"),
        ("worker-a", "need.message", f"新留言：{TITLE}"),
    }
    services.need_start(actor=helper, access=access_for(helper, need))
    assert inbox.new() == []
    services.need_mark_done(actor=helper, access=access_for(helper, need), minutes=60)
    assert by_user(inbox.new()) == {
        ("grandma", "need.done", f"志愿者已完成服务，请确认并评价：{TITLE}"),
        ("worker-a", "need.done", f"志愿者已完成服务，请确认并评价：{TITLE}"),
    }
    services.need_dispute(actor=grandma, access=access_for(grandma, need), reason="少买了")
    assert by_user(inbox.new()) == {
        ("worker-a", "need.dispute", f"求助人对服务有异议：{TITLE}"),
        ("near", "need.dispute", f"求助人对服务有异议：{TITLE}"),
    }
    services.dispute_return(
        actor=city.worker_a, access=access_for(city.worker_a, need), note="请补齐"
    )
    assert by_user(inbox.new()) == {
        ("near", "need.dispute_return", f"异议已处理，继续服务：{TITLE}"),
        ("grandma", "need.dispute_return", f"异议已处理，继续服务：{TITLE}"),
    }
    services.need_mark_done(actor=helper, access=access_for(helper, need), minutes=60)
    inbox.new()
    services.need_confirm(actor=grandma, access=access_for(grandma, need), data=Confirmation(5))
    new = inbox.new()
    assert ("near", "need.confirm", f"服务已确认：{TITLE}") in new
    assert {user for user, _kind, _title in new} == {"near"}
    assert Notification.objects.filter(user=helper, kind="need.confirm").get().body == (
        "服务时长 60 分钟已记入您的志愿服务记录。"
    )


def test_a_resident_posting_themself_tells_the_communitys_workers(city, people):
    resident = people[0]
    inbox = Inbox()
    services.need_create(
        actor=resident.user,
        scope=Scope.for_user(resident.user),
        data=need_input(urgency=Urgency.URGENT),
        requester=resident,
    )
    assert by_user(inbox.new()) == {
        ("worker-a", "need.post", f"紧急求助：{TITLE}"),
        ("admin-a", "need.post", f"紧急求助：{TITLE}"),
        ("grid-a", "need.post", f"紧急求助：{TITLE}"),
    }
    services.need_create(
        actor=resident.user,
        scope=Scope.for_user(resident.user),
        data=need_input(),
        requester=resident,
    )
    assert {title for _u, _k, title in inbox.new()} == {f"新的求助：{TITLE}"}


def test_a_broadcast_reaches_the_top_candidates_as_urgent(city, people):
    resident = people[0]
    need = post_need(city.worker_a, resident, urgency=Urgency.SOON)
    inbox = Inbox()
    services.need_broadcast(actor=city.worker_a, access=access_for(city.worker_a, need), top=5)
    assert inbox.new() == [
        ("near", "need.invite", f"紧急求助：{TITLE}"),
        ("far", "need.invite", f"紧急求助：{TITLE}"),
    ]


def test_cancelling_tells_the_volunteer_those_asked_and_the_requester(city, people):
    resident, near, far, offline = people
    need = post_need(city.worker_a, resident)
    services.need_invite(
        actor=city.worker_a,
        access=access_for(city.worker_a, need),
        volunteer_ids=[near.pk, far.pk, offline.pk],
    )
    inbox = Inbox()
    services.need_cancel(
        actor=city.worker_a, access=access_for(city.worker_a, need), reason="家人回来了"
    )
    assert by_user(inbox.new()) == {
        ("grandma", "need.cancel", f"需求已取消：{TITLE}"),
        ("near", "need.cancel", f"需求已取消：{TITLE}"),
        ("far", "need.cancel", f"需求已取消：{TITLE}"),
    }
    assert inbox.body() == "家人回来了"
    other = post_need(city.worker_a, resident)
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, other), volunteer_ids=[near.pk]
    )
    services.invitation_accept(actor=near.person.user, invitation=near.invitations.get(need=other))
    inbox.new()
    services.need_cancel(
        actor=resident.user, access=access_for(resident.user, other), reason="不需要了"
    )
    assert inbox.new() == [("near", "need.cancel", f"需求已取消：{TITLE}")]


def test_offers_and_their_answers(city, people):
    resident, near, far, _offline = people
    need = post_need(city.worker_a, resident)
    inbox = Inbox()
    application = services.need_apply(actor=near.person.user, need=need, volunteer=near)
    assert by_user(inbox.new()) == {
        ("grandma", "need.apply", f"有志愿者愿意承接：{TITLE}"),
        ("worker-a", "need.apply", f"有志愿者愿意承接：{TITLE}"),
    }
    services.invitation_decline(
        actor=resident.user,
        invitation=application,
        access=access_for(resident.user, need),
        reply="已有人",
    )
    assert inbox.new() == [("near", "need.decline", f"您的自荐未被采纳：{TITLE}")]
    (invitation,) = services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, need), volunteer_ids=[far.pk]
    )
    inbox.new()
    services.invitation_decline(
        actor=city.worker_a, invitation=invitation, access=access_for(city.worker_a, need)
    )
    assert inbox.new() == [("far", "need.decline", f"邀请已撤回：{TITLE}")]


def test_a_volunteer_taking_back_an_offer_tells_nobody(city, people):
    resident, near, _far, _offline = people
    need = post_need(city.worker_a, resident)
    application = services.need_apply(actor=near.person.user, need=need, volunteer=near)
    inbox = Inbox()
    services.invitation_decline(actor=near.person.user, invitation=application)
    assert inbox.new() == []


def test_a_dispute_closed_tells_volunteer_and_requester(city, people):
    resident, near, _far, _offline = people
    need = post_need(city.worker_a, resident)
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, need), volunteer_ids=[near.pk]
    )
    helper = near.person.user
    services.invitation_accept(actor=helper, invitation=near.invitations.get())
    services.need_mark_done(actor=helper, access=access_for(helper, need), minutes=30)
    services.need_dispute(
        actor=resident.user, access=access_for(resident.user, need), reason="没来"
    )
    inbox = Inbox()
    services.dispute_close(
        actor=city.worker_a, access=access_for(city.worker_a, need), note="核实未服务"
    )
    assert by_user(inbox.new()) == {
        ("near", "need.dispute_close", f"异议已处理，需求已关闭：{TITLE}"),
        ("grandma", "need.dispute_close", f"异议已处理，需求已关闭：{TITLE}"),
    }


def test_nobody_without_a_login_is_told(city):
    resident = make_resident(city.grid_a, "孙奶奶")  # no login
    offline = make_volunteer(city.grid_a, "钱无号")
    volunteer = helper_volunteer(city.grid_a, "李近", "near", place=(36.661, 117.021))
    inbox = Inbox()
    need = post_need(city.worker_a, resident, payment=Payment.NONE)
    services.need_invite(
        actor=city.worker_a,
        access=access_for(city.worker_a, need),
        volunteer_ids=[offline.pk, volunteer.pk],
    )
    assert inbox.new() == [("near", "need.invite", f"邀请您承接：{TITLE}")]
    helper = volunteer.person.user
    services.invitation_accept(actor=helper, invitation=volunteer.invitations.get())
    assert inbox.new() == [("worker-a", "need.match", f"需求已匹配：{TITLE}")]
    services.need_mark_done(actor=helper, access=access_for(helper, need), minutes=30)
    assert inbox.new() == [("worker-a", "need.done", f"志愿者已完成服务，请确认并评价：{TITLE}")]


def test_an_org_need_tells_the_communitys_workers_and_admins(city, people):
    _resident, near, _far, _offline = people
    need = post_need(city.worker_a, org=city.community_a, payment=Payment.NONE)
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, need), volunteer_ids=[near.pk]
    )
    inbox = Inbox()
    services.invitation_accept(actor=near.person.user, invitation=near.invitations.get())
    assert by_user(inbox.new()) == {
        ("worker-a", "need.match", f"需求已匹配：{TITLE}"),
        ("admin-a", "need.match", f"需求已匹配：{TITLE}"),
    }
    assert Need.objects.count() == 1
