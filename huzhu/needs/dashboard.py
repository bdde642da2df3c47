"""What the home page shows about needs: the worker's to-dos (needs unmatched, waiting for
confirmation or in dispute, pairs gone quiet) and the resident's / volunteer's own."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone

from huzhu.needs.models import ACTIVE_NEED_STATUSES, InvitationStatus, Need, NeedStatus, Pairing
from huzhu.needs.selectors import quiet_pairings
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope


@dataclass
class NeedsTodo:
    unmatched: int | None  # None: the user does not handle needs (e.g. a party worker)
    unmatched_urgent: int = 0
    awaiting: int = 0
    disputed: int = 0
    quiet_pairings: int | None = None


def worker_todo(*, scope: Scope) -> NeedsTodo | None:
    if not scope.can(Perm.NEED_MANAGE) and not scope.can(Perm.PAIRING_MANAGE):
        return None
    todo = NeedsTodo(unmatched=None)
    if scope.can(Perm.PAIRING_MANAGE):
        pairs = Pairing.objects.within(scope, Perm.PAIRING_MANAGE)  # type: ignore[attr-defined]
        todo.quiet_pairings = quiet_pairings(pairs, timezone.localdate()).count()
    if scope.can(Perm.NEED_MANAGE):
        needs = Need.objects.within(scope, Perm.NEED_MANAGE)  # type: ignore[attr-defined]
        counts = dict(
            needs.filter(status__in=(NeedStatus.OPEN, NeedStatus.AWAITING, NeedStatus.DISPUTED))
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        todo.unmatched = counts.get(NeedStatus.OPEN, 0)
        todo.unmatched_urgent = (
            needs.filter(status=NeedStatus.OPEN).exclude(urgency="normal").count()
        )
        todo.awaiting = counts.get(NeedStatus.AWAITING, 0)
        todo.disputed = counts.get(NeedStatus.DISPUTED, 0)
    return todo


@dataclass
class PersonNeeds:
    open_needs: int  # the resident's own needs not yet closed
    to_confirm: int  # of which waiting for their confirmation
    invitations: int | None  # pending invitations, for volunteers
    in_hand: int | None  # needs the volunteer has taken and not finished


def person_needs(*, scope: Scope) -> PersonNeeds | None:
    if scope.person_id is None:
        return None
    from huzhu.volunteers.models import Volunteer

    own = Need.objects.filter(requester_id=scope.person_id).exclude(
        status__in=(NeedStatus.DONE, NeedStatus.CANCELLED)
    )
    volunteer_id = (
        Volunteer.objects.filter(person_id=scope.person_id).values_list("pk", flat=True).first()
    )
    invitations = in_hand = None
    if volunteer_id is not None:
        from huzhu.needs.models import Invitation

        invitations = Invitation.objects.filter(
            volunteer_id=volunteer_id,
            status=InvitationStatus.PENDING,
            need__status=NeedStatus.OPEN,
        ).count()
        in_hand = Need.objects.filter(
            volunteer_id=volunteer_id, status__in=ACTIVE_NEED_STATUSES
        ).count()
    return PersonNeeds(
        open_needs=own.count(),
        to_confirm=own.filter(status=NeedStatus.AWAITING).count(),
        invitations=invitations,
        in_hand=in_hand,
    )
