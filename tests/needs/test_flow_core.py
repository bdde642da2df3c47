"""The whole exchange through the services: post → rank → invite → accept → talk → done →
confirm → paid and recorded."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from huzhu.activities.models import RecordSource, RecordStatus, ServiceRecord
from huzhu.needs import matching, services
from huzhu.needs.models import InvitationStatus, NeedStatus
from huzhu.timebank.models import Account
from tests.factories import City
from tests.needs.factories import (
    access_for,
    give_credits,
    helper_volunteer,
    make_resident,
    post_need,
    set_place,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def city():
    city = City()
    set_place(city.community_a, 36.660, 117.020)
    set_place(city.community_b, 36.670, 117.030)
    return city


def test_a_need_is_matched_accepted_done_confirmed_and_paid(city):
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    give_credits(resident, 300)
    near = helper_volunteer(city.grid_a, "李近", "near", place=(36.661, 117.021))
    far = helper_volunteer(city.grid_a, "赵远", "far", place=(36.690, 117.060))
    helper_volunteer(city.grid_a, "钱理发", "barber", categories=("理发",))
    need = post_need(city.worker_a, resident)
    assert need.category.name == "助餐"
    assert [c.name for c in need.extra_categories.all()] == ["跑腿代办"]

    ranked = matching.rank(need)
    assert [c.volunteer_id for c in ranked] == [near.pk, far.pk]
    assert ranked == matching.rank_full_scan(need)
    ctx = matching.MatchContext.for_need(need)
    reasons = matching.explain(ctx, ranked[0])
    assert reasons[0] == "发布了“跑腿代办”服务"
    assert reasons[1] == "距离约 0.1 公里"

    worker = access_for(city.worker_a, need)
    services.need_invite(actor=city.worker_a, access=worker, volunteer_ids=[near.pk, far.pk])
    invitation = near.invitations.get()
    services.invitation_accept(actor=near.person.user, invitation=invitation)
    with pytest.raises(ValidationError):
        services.invitation_accept(actor=far.person.user, invitation=far.invitations.get())
    assert far.invitations.get().status == InvitationStatus.CLOSED

    mine = access_for(near.person.user, need)
    services.message_post(
        actor=near.person.user, access=mine, body="我明早九点到，电话 13912345678"
    )
    services.need_mark_done(actor=near.person.user, access=mine, minutes=75)
    services.need_confirm(
        actor=resident.user,
        access=access_for(resident.user, need),
        data=services.Confirmation(rating=5, comment="很及时"),
    )
    need.refresh_from_db()
    assert need.status == NeedStatus.DONE
    assert need.messages.filter(role="volunteer").get().body == "我明早九点到，电话 [号码已隐藏]"
    assert Account.objects.get(person=resident).balance == 300 - 75
    assert Account.objects.get(person=near.person).balance == 75
    record = ServiceRecord.objects.get(volunteer=near)
    assert (record.minutes, record.source, record.status) == (
        75,
        RecordSource.NEED,
        RecordStatus.CONFIRMED,
    )
    near.refresh_from_db()
    assert near.recorded_minutes == 75
