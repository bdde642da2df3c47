"""The ``needs`` demo step: centres for communities and grids, offers, needs in every state run
through the real services (records, payments and events that agree), pairings with visit
logs, and what the demo logins find."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Max, Sum
from django.utils import timezone

from huzhu.activities.models import RecordSource, RecordStatus
from huzhu.common.models import AuditEntry
from huzhu.demo.seed import STEPS, STREET_CENTRES, reset_demo, seed_demo
from huzhu.needs import demo_steps, matching
from huzhu.needs.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    MatchProfile,
    Message,
    Need,
    NeedChannel,
    NeedStatus,
    Offer,
    Pairing,
    Payment,
    Visit,
)
from huzhu.needs.selectors import board_needs, my_invitations, my_needs, quiet_pairings
from huzhu.orgs.models import Org, OrgKind
from huzhu.people.models import Person
from huzhu.timebank import ledger
from huzhu.timebank.models import Account, AccountKind, Entry, Transfer, TransferKind
from huzhu.volunteers.models import PoliticalStatus, Volunteer

User = get_user_model()
PASSWORD = "demo-pass-123"
RESIDENTS = 600


@pytest.fixture
def demo(db):
    return seed_demo(password=PASSWORD, residents=RESIDENTS, progress=False)


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return matching.distance_km(a[0], a[1], b[0], b[1])


def test_the_steps_are_registered_in_order():
    names = [s.name for s in STEPS]
    assert names.index("needs") == names.index("timebank") + 1
    # The transient logins' reset runs after the activities' and the time bank's resets.
    assert names.index("needs-logins") == names.index("accounts") + 1


def test_communities_and_grids_have_centres_around_their_street(demo):
    streets = {s.pk: s for s in Org.objects.filter(kind=OrgKind.STREET)}
    communities = {c.pk: c for c in Org.objects.filter(kind=OrgKind.COMMUNITY)}
    assert len(communities) == 20
    for community in communities.values():
        centre = STREET_CENTRES[streets[community.parent_id].name]
        place = (community.latitude, community.longitude)
        assert _km(place, centre) <= 0.9 + 1e-6, community.name
        assert round(community.latitude, 6) == community.latitude
    grids = Org.objects.filter(kind=OrgKind.GRID)
    assert grids.count() > 60
    for grid in grids:
        community = communities[grid.parent_id]
        distance = _km((grid.latitude, grid.longitude), (community.latitude, community.longitude))
        assert distance <= 0.35 + 1e-6, grid.name
    # Other orgs have no centre of their own.
    assert not Org.objects.exclude(kind__in=(OrgKind.COMMUNITY, OrgKind.GRID)).filter(
        latitude__isnull=False
    )
    # The same seed places the city the same way.
    a = communities[next(pk for pk, c in communities.items() if c.name == "历山路社区")]
    assert (a.latitude, a.longitude) == (36.665745, 117.040874)


def test_offers_and_match_profiles(demo):
    counts = demo.counts
    volunteers = Offer.objects.filter(volunteer__isnull=False)
    units = Offer.objects.filter(volunteer__isnull=True)
    assert counts["needs.offers"] == volunteers.count() > 20
    assert counts["needs.unit_offers"] == units.count() >= 1
    for offer in volunteers.select_related("org", "volunteer").prefetch_related("categories"):
        assert offer.org_id == offer.volunteer.org_id
        assert offer.categories.count() >= 1
        assert offer.latitude is not None and offer.address.endswith("及周边")
        assert offer.availability > 0
        centre = (offer.org.latitude, offer.org.longitude)
        assert _km((offer.latitude, offer.longitude), centre) <= 0.4 + 1e-6
    for offer in units.select_related("org"):
        assert offer.org.kind == OrgKind.UNIT
    # Profiles as the real refresh builds them: one row per volunteer and fitting category,
    # the offer's categories counted as offers, at the offer's place.
    assert counts["needs.profiles"] == MatchProfile.objects.count() > 0
    offer = volunteers.filter(is_active=True).order_by("pk").first()
    rows = MatchProfile.objects.filter(volunteer_id=offer.volunteer_id)
    offered = set(offer.categories.values_list("pk", flat=True))
    assert {r.category_id for r in rows if r.fit == 3} >= offered
    newest = Offer.objects.filter(volunteer_id=offer.volunteer_id, is_active=True).latest(
        "updated_at", "pk"
    )
    assert {(r.latitude, r.longitude) for r in rows} == {(newest.latitude, newest.longitude)}


def test_needs_in_every_state_through_the_services(demo):
    counts = demo.counts
    needs = Need.objects.all()
    assert counts["needs"] == needs.count() > 15
    by_status = Counter(needs.values_list("status", flat=True))
    assert set(by_status) == set(NeedStatus.values)
    for status, n in by_status.items():
        assert counts[f"needs.{status}"] == n
    assert by_status[NeedStatus.DISPUTED] == 2
    assert Counter(needs.values_list("channel", flat=True)).keys() == set(NeedChannel.values)
    assert Counter(needs.values_list("payment", flat=True)).keys() == set(Payment.values)
    assert Counter(Invitation.objects.values_list("kind", flat=True)).keys() == set(
        InvitationKind.values
    )
    # One accepted invitation for every need that was taken, none for the others.
    taken = needs.exclude(volunteer__isnull=True)
    accepted = Invitation.objects.filter(status=InvitationStatus.ACCEPTED)
    assert sorted(accepted.values_list("need_id", flat=True)) == sorted(
        taken.values_list("pk", flat=True)
    )
    for invitation in accepted.select_related("need"):
        assert invitation.volunteer_id == invitation.need.volunteer_id
    assert not Invitation.objects.filter(
        status=InvitationStatus.PENDING, need__status__in=NeedStatus.values[1:]
    ).exists()
    # Phone numbers typed into a thread are hidden.
    assert not Message.objects.filter(body__contains="13905316688").exists()
    assert Message.objects.filter(body__contains="[号码已隐藏]").exists()


def test_done_needs_have_records_and_payments_dated_with_the_story(demo):
    today = timezone.localdate()
    done = Need.objects.filter(status=NeedStatus.DONE).select_related("record", "transfer")
    assert done.count() == demo.counts["needs.done"] > 3
    for need in done:
        record = need.record
        assert record.source == RecordSource.NEED and record.status == RecordStatus.CONFIRMED
        assert record.minutes == need.actual_minutes
        assert record.volunteer_id == need.volunteer_id
        assert record.served_on == timezone.localtime(need.done_at).date() < today
        assert record.confirmed_at == need.closed_at
        assert need.rating in range(1, 6)
        if need.payment == Payment.NONE:
            assert need.transfer is None
            continue
        transfer = need.transfer
        assert transfer.kind == TransferKind.SPEND and transfer.record_id == record.pk
        assert transfer.created_at == need.closed_at
        entries = list(transfer.entries.select_related("account"))
        assert {e.created_at for e in entries} == {need.closed_at}
        paid = {e.account.kind: e.amount for e in entries}
        payer = AccountKind.PERSON if need.payment == Payment.REQUESTER else AccountKind.POOL
        assert sorted(e.amount for e in entries) == [-need.actual_minutes, need.actual_minutes]
        if payer == AccountKind.POOL:
            assert paid[AccountKind.POOL] == -need.actual_minutes
        helper = next(e for e in entries if e.amount > 0).account
        assert helper.person_id == need.volunteer.person_id
    check = ledger.verify()
    assert check.ok, (check.mismatched, check.unbalanced)
    # Residents who pay were granted credits by their street's guarantee fund, before the
    # period began.
    grants = Transfer.objects.filter(kind=TransferKind.GRANT, memo__contains="保障基金资助")
    assert grants.count() == demo.counts["needs.grants"] > 0
    first = Need.objects.order_by("created_at").first().created_at
    assert grants.aggregate(m=Max("created_at"))["m"] < first


def test_events_follow_the_story(demo):
    now = timezone.now()
    for need in Need.objects.prefetch_related("events", "messages", "invitations"):
        events = list(need.events.all())  # ordered by (created_at, id)
        assert [e.pk for e in events] == sorted(e.pk for e in events), need.number
        assert events[0].verb == "post" and events[0].created_at == need.created_at
        assert all(e.created_at < now for e in events)
        changes = [e for e in events if e.to_status]
        assert changes[-1].to_status == need.status, need.number
        stamps = [need.created_at, need.matched_at, need.started_at, need.done_at]
        known = [s for s in stamps if s is not None]
        assert known == sorted(known), need.number
        if need.closed_at is not None:
            assert need.closed_at >= known[-1]
        for message in need.messages.all():
            assert message.created_at >= need.created_at
        for invitation in need.invitations.all():
            assert need.created_at <= invitation.created_at
            if invitation.responded_at is not None:
                assert invitation.responded_at >= invitation.created_at
        if need.status in (NeedStatus.OPEN, NeedStatus.MATCHED):
            assert need.starts_at > now
        if need.status == NeedStatus.DONE:
            assert need.starts_at < now - dt.timedelta(days=3)
            assert need.starts_at > now - dt.timedelta(days=demo_steps.DAYS_BACK + 1)
    # Who acted keeps a name; the transient logins are gone from the people (only the demo
    # logins remain linked) and switched off.
    assert Person.objects.filter(user__isnull=False).count() == 3
    transient = User.objects.filter(username__startswith=demo_steps.LOGIN_PREFIX)
    assert transient.count() == demo.counts["needs.transient_logins"] > 0
    assert not transient.filter(is_active=True).exists()
    assert not Need.objects.filter(events__actor_label__startswith=demo_steps.LOGIN_PREFIX)
    # The seed writes one audit entry; the services' own are not kept.
    assert not AuditEntry.objects.filter(verb__startswith="need.").exists()
    assert AuditEntry.objects.filter(verb="demo.seed").count() == 1


def test_pairings_and_visits(demo):
    counts = demo.counts
    pairings = Pairing.objects.select_related("helper__volunteer", "resident")
    assert counts["needs.pairings"] == pairings.count() > 5
    assert counts["needs.visits"] == Visit.objects.count()
    party = (PoliticalStatus.CPC_MEMBER, PoliticalStatus.CPC_PROBATIONARY)
    today = timezone.localdate()
    for pairing in pairings:
        assert pairing.helper_is_party_member == (
            pairing.helper.volunteer.political_status in party
        )
        assert set(pairing.resident.tags.values_list("name", flat=True)) & {"独居老人", "孤寡老人"}
        visits = pairing.visits.all()
        last = visits.aggregate(m=Max("visited_on"))["m"]
        assert pairing.last_visit_on == last
        for visit in visits:
            assert pairing.started_on <= visit.visited_on <= today
            if visit.need_id:
                assert visit.need.requester_id == pairing.resident_id
    assert counts["needs.pairings.party"] == pairings.filter(helper_is_party_member=True).count()
    quiet = quiet_pairings(Pairing.objects.all(), today)
    assert counts["needs.pairings.quiet"] == quiet.count() >= 1


def test_what_the_demo_logins_find(demo):
    community_a = Org.objects.get(name="历山路社区")
    resident = Person.objects.get(user__username="resident")
    mine = list(my_needs(person_id=resident.pk).order_by("starts_at"))
    assert [(n.status, n.channel, n.payment) for n in mine] == [
        (NeedStatus.DONE, NeedChannel.SELF, Payment.REQUESTER),
        (NeedStatus.AWAITING, NeedChannel.SELF, Payment.REQUESTER),
        (NeedStatus.OPEN, NeedChannel.SELF, Payment.REQUESTER),
    ]
    done, awaiting, open_need = mine
    assert (done.rating, done.rating_comment) == (5, "准时到，干活仔细。")
    assert done.transfer.entries.get(amount__lt=0).account.person_id == resident.pk
    # She can pay for the one waiting for her confirmation.
    account = Account.objects.get(person=resident)
    assert account.balance >= awaiting.actual_minutes
    assert account.balance == Entry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]
    offers = list(open_need.invitations.all())
    assert [(i.kind, i.status) for i in offers] == [
        (InvitationKind.APPLY, InvitationStatus.PENDING)
    ]

    volunteer = Volunteer.objects.get(person__user__username="volunteer")
    offer = Offer.objects.get(volunteer=volunteer)
    assert sorted(offer.categories.values_list("name", flat=True)) == ["跑腿代办", "陪伴关怀"]
    pending = list(my_invitations(volunteer=volunteer, pending_only=True))
    assert len(pending) == 1 and pending[0].need.org.path.startswith(community_a.path)
    served = Counter(Need.objects.filter(volunteer=volunteer).values_list("status", flat=True))
    assert served == {NeedStatus.DONE: 1, NeedStatus.MATCHED: 1}
    matched = Need.objects.get(volunteer=volunteer, status=NeedStatus.MATCHED)
    assert [m.role for m in matched.messages.all()] == ["system", "volunteer", "worker"]
    assert board_needs(volunteer=volunteer).exists()
    pair = Pairing.objects.get(helper=volunteer.person)
    assert pair.last_visit_on == timezone.localdate() - dt.timedelta(days=12)
    assert pair.visits.filter(recorded_by__username="volunteer").exists()
    assert Pairing.objects.filter(resident=resident, org__path__startswith=community_a.path)

    # worker-a: open needs, needs waiting for confirmation, a dispute, one sent back.
    in_a = Need.objects.filter(org__path__startswith=community_a.path)
    for status in (NeedStatus.OPEN, NeedStatus.AWAITING, NeedStatus.DISPUTED):
        assert in_a.filter(status=status).exists(), status
    assert in_a.filter(status=NeedStatus.DONE, events__verb="dispute_return").count() == 1


def test_reset_removes_the_needs_rows(demo):
    assert reset_demo()
    for model in (Need, Offer, MatchProfile, Pairing, Visit, Invitation, Message):
        assert model.objects.count() == 0, model.__name__
    assert not User.objects.filter(username__startswith=demo_steps.LOGIN_PREFIX).exists()


def test_apportion_and_story_helpers():
    assert demo_steps._apportion(10, {1: 1.0, 2: 1.0, 3: 2.0}) == {1: 3, 2: 2, 3: 5}
    assert demo_steps._apportion(0, {1: 1.0}) == {1: 0}
    assert math.isclose(sum(demo_steps._apportion(7, {1: 0.3, 2: 0.3, 3: 0.4}).values()), 7)
