"""Reads of needs, offers, invitations, threads and pairings — each within what the reader
may see: workers their scope, residents their own needs, volunteers what they were asked to
do (and the open needs near them), helpers their pairs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.needs.models import (
    Invitation,
    InvitationStatus,
    Message,
    MessageRole,
    Need,
    NeedStatus,
    Offer,
    Pairing,
    PairingStatus,
    Visit,
)
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope

NOT_FOUND = _("需求不存在或无权查看。")


def community_of(org: Org) -> Org:
    """A grid's community; any other org is its own."""
    if org.kind == OrgKind.GRID and org.parent_id:
        return Org.objects.get(pk=org.parent_id)
    return org


def volunteer_of(user: Any) -> Any:
    from huzhu.volunteers.models import Volunteer

    person_id = getattr(getattr(user, "person", None), "pk", None)
    if person_id is None:
        return None
    return Volunteer.objects.filter(person_id=person_id).select_related("person").first()


def person_id_of(user: Any) -> int | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    person = getattr(user, "person", None)
    return person.pk if person is not None else None


def _need_base() -> QuerySet[Need]:
    return Need.objects.select_related(
        "org", "category", "requester", "volunteer__person", "posted_by"
    )


# --- who is who on a need ------------------------------------------------------------------


@dataclass(frozen=True)
class NeedAccess:
    """What one user is to one need."""

    need: Need
    is_requester: bool = False
    is_volunteer: bool = False  # the volunteer who took it
    is_invited: bool = False  # a pending invitation or application
    is_worker: bool = False  # may manage it (NEED_MANAGE over its org)
    can_view_scope: bool = False  # oversight: may read it (VIEW over its org)

    @property
    def role(self) -> str:
        if self.is_worker:
            return MessageRole.WORKER
        if self.is_requester:
            return MessageRole.REQUESTER
        return MessageRole.VOLUNTEER

    @property
    def in_thread(self) -> bool:
        """Requester, the volunteer who took it, and workers talk in the thread."""
        return self.is_requester or self.is_volunteer or self.is_worker or self.can_view_scope

    @property
    def may_post(self) -> bool:
        return (
            self.is_requester or self.is_volunteer or self.is_worker
        ) and not self.need.is_closed

    @property
    def sees_address(self) -> bool:
        return self.is_requester or self.is_volunteer or self.is_worker or self.can_view_scope


def need_access(*, user: Any, scope: Scope, need_id: int) -> NeedAccess:
    """The need and what ``user`` is to it; 404 (the same for missing and not yours) when the
    user is none of requester, its volunteer, invited, or staff over its org."""
    need = _need_base().filter(pk=need_id).first()
    if need is None:
        raise Http404(NOT_FOUND)
    access = _access(user, scope, need)
    if not (access.in_thread or access.is_invited or _on_board(user, need)):
        raise Http404(NOT_FOUND)
    return access


def _access(user: Any, scope: Scope, need: Need) -> NeedAccess:
    person_id = person_id_of(user)
    volunteer_person = need.volunteer.person_id if need.volunteer_id else None
    invited = (
        person_id is not None
        and Invitation.objects.filter(
            need=need, volunteer__person_id=person_id, status=InvitationStatus.PENDING
        ).exists()
    )
    return NeedAccess(
        need=need,
        is_requester=person_id is not None and need.requester_id == person_id,
        is_volunteer=person_id is not None and volunteer_person == person_id,
        is_invited=invited,
        is_worker=scope.can(Perm.NEED_MANAGE, need.org),
        can_view_scope=scope.can(Perm.VIEW, need.org),
    )


def _on_board(user: Any, need: Need) -> bool:
    """An open need is visible to registered volunteers of its street (the need board)."""
    if need.status != NeedStatus.OPEN:
        return False
    volunteer = volunteer_of(user)
    return volunteer is not None and board_needs(volunteer=volunteer).filter(pk=need.pk).exists()


# --- lists ---------------------------------------------------------------------------------


@dataclass
class NeedFilters:
    status: str = ""
    category_id: int | None = None
    urgency: str = ""
    org_id: int | None = None
    payment: str = ""
    text: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    unmatched_only: bool = False


def need_list(*, scope: Scope, filters: NeedFilters | None = None) -> QuerySet[Need]:
    """Needs within the worker's scope, newest first, with filters."""
    f = filters or NeedFilters()
    qs = _need_base().within(scope)  # type: ignore[attr-defined]
    if f.status:
        qs = qs.filter(status=f.status)
    if f.unmatched_only:
        qs = qs.filter(status=NeedStatus.OPEN)
    if f.category_id:
        qs = qs.filter(category_id=f.category_id)
    if f.urgency:
        qs = qs.filter(urgency=f.urgency)
    if f.payment:
        qs = qs.filter(payment=f.payment)
    if f.org_id:
        org = Org.objects.filter(pk=f.org_id).first()
        qs = qs.filter(org__path__startswith=org.path) if org else qs.none()
    if f.text.strip():
        text = f.text.strip()
        qs = qs.filter(
            Q(title__contains=text)
            | Q(description__contains=text)
            | Q(number__iexact=text)
            | Q(requester__name__contains=text)
        )
    if f.date_from:
        qs = qs.filter(starts_at__date__gte=f.date_from)
    if f.date_to:
        qs = qs.filter(starts_at__date__lte=f.date_to)
    return qs


def my_needs(*, person_id: int) -> QuerySet[Need]:
    """A resident's own needs."""
    return _need_base().filter(requester_id=person_id)


def board_root(volunteer: Any) -> str:
    """The path under which a volunteer sees (and may offer to take) open needs: their
    street, or their community when it has no street above it."""
    community = community_of(volunteer.org)
    street = Org.objects.filter(pk=community.parent_id, kind=OrgKind.STREET).first()
    return (street or community).path


def board_needs(*, volunteer: Any) -> QuerySet[Need]:
    """Open needs a volunteer 在册 may offer to take: in their street (or community, when it
    has no street above it), not their own, not already answered by them, not yet over."""
    from huzhu.volunteers.models import VolunteerStatus

    if volunteer.status != VolunteerStatus.REGISTERED:
        return Need.objects.none()
    root = board_root(volunteer)
    answered = Invitation.objects.filter(volunteer=volunteer).values("need_id")
    return (
        _need_base()
        .filter(status=NeedStatus.OPEN, org__path__startswith=root, ends_at__gt=timezone.now())
        .exclude(requester_id=volunteer.person_id)
        .exclude(pk__in=answered)
        .order_by("starts_at", "pk")
    )


def my_invitations(*, volunteer: Any, pending_only: bool = False) -> QuerySet[Invitation]:
    qs = Invitation.objects.filter(volunteer=volunteer).select_related(
        "need__category", "need__org", "need__requester"
    )
    if pending_only:
        qs = qs.filter(status=InvitationStatus.PENDING, need__status=NeedStatus.OPEN)
    return qs


def my_assignments(*, volunteer: Any) -> QuerySet[Need]:
    """Needs the volunteer has taken, those in hand first."""
    return (
        _need_base()
        .filter(volunteer=volunteer)
        .order_by(F("closed_at").desc(nulls_first=True), "-matched_at", "-pk")
    )


def need_invitations(*, need: Need) -> QuerySet[Invitation]:
    return need.invitations.select_related("volunteer__person", "invited_by").order_by(
        "status", "-score", "pk"
    )


def need_messages(*, need: Need) -> QuerySet[Message]:
    return need.messages.order_by("created_at", "pk")


def need_events(*, need: Need) -> QuerySet[Any]:
    return need.events.order_by("created_at", "pk")


def unmatched_count(*, scope: Scope) -> int:
    return Need.objects.within(scope, Perm.NEED_MANAGE).filter(status=NeedStatus.OPEN).count()  # type: ignore[attr-defined]


def awaiting_count(*, scope: Scope) -> int:
    return (
        Need.objects.within(scope, Perm.NEED_MANAGE)  # type: ignore[attr-defined]
        .filter(status__in=(NeedStatus.AWAITING, NeedStatus.DISPUTED))
        .count()
    )


# --- offers -------------------------------------------------------------------------------


def offer_list(
    *, scope: Scope, category_id: int | None = None, units_only: bool = False
) -> QuerySet[Offer]:
    qs = (
        Offer.objects.within(scope)  # type: ignore[attr-defined]
        .filter(is_active=True)
        .select_related("org", "volunteer__person")
        .prefetch_related("categories")
    )
    if category_id:
        qs = qs.filter(categories__pk=category_id)
    if units_only:
        qs = qs.filter(volunteer__isnull=True)
    return qs.distinct()


def my_offers(*, volunteer: Any) -> QuerySet[Offer]:
    return Offer.objects.filter(volunteer=volunteer).prefetch_related("categories")


def unit_offers_for(*, need: Need) -> QuerySet[Offer]:
    """Offers of units in the need's street that cover its categories (shown beside the
    ranked volunteers on the matching screen)."""
    community = community_of(need.org)
    root = community.path
    if community.parent_id:
        parent = Org.objects.get(pk=community.parent_id)
        root = parent.path if parent.kind == OrgKind.STREET else root
    categories = [need.category_id, *need.extra_categories.values_list("pk", flat=True)]
    return (
        Offer.objects.filter(
            is_active=True,
            volunteer__isnull=True,
            org__path__startswith=root,
            categories__pk__in=categories,
        )
        .select_related("org")
        .distinct()
    )


# --- pairings -----------------------------------------------------------------------------


def quiet_since(pairing: Pairing, today: dt.date) -> int:
    """Days since the last visit (or since the pair started)."""
    last = pairing.last_visit_on or pairing.started_on
    return (today - last).days


def pairing_list(
    *, scope: Scope, status: str = PairingStatus.ACTIVE, quiet_only: bool = False
) -> QuerySet[Pairing]:
    qs = Pairing.objects.within(scope).select_related("org", "helper", "resident")  # type: ignore[attr-defined]
    if status:
        qs = qs.filter(status=status)
    if quiet_only:
        qs = quiet_pairings(qs, timezone.localdate())
    return qs


def quiet_pairings(qs: QuerySet[Pairing], today: dt.date) -> QuerySet[Pairing]:
    """Active pairs whose last visit (or start) is older than their visit cycle."""
    from django.db.models import DateField, ExpressionWrapper
    from django.db.models.functions import Coalesce

    last = Coalesce("last_visit_on", "started_on", output_field=DateField())
    rows = qs.filter(status=PairingStatus.ACTIVE).annotate(
        _last=ExpressionWrapper(last, DateField())
    )
    quiet_ids = [
        pk
        for pk, last_day, every in rows.values_list("pk", "_last", "visit_every_days")
        if (today - last_day).days > every
    ]
    return qs.filter(pk__in=quiet_ids)


def my_pairings(*, person_id: int) -> QuerySet[Pairing]:
    return Pairing.objects.filter(helper_id=person_id).select_related("org", "resident")


def pairing_visits(*, pairing: Pairing) -> QuerySet[Visit]:
    return pairing.visits.select_related("recorded_by", "need").order_by("-visited_on", "-pk")


def pairing_get(*, user: Any, scope: Scope, pairing_id: int) -> Pairing:
    """A pair for its helper or for staff over its org; 404 otherwise."""
    pairing = (
        Pairing.objects.select_related("org", "helper", "resident").filter(pk=pairing_id).first()
    )
    person_id = person_id_of(user)
    if pairing is None or not (pairing.helper_id == person_id or scope.can(Perm.VIEW, pairing.org)):
        raise Http404(_("结对不存在或无权查看。"))
    return pairing
