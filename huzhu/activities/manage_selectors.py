"""Reads the organiser's pages need beyond ``activities.selectors``: which orgs may organise
activities, the volunteers an organiser may add to a shift, and the records a certificate
application would cover."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from huzhu.activities.models import Certificate, ServiceRecord
from huzhu.activities.record_services import certified_records
from huzhu.activities.services import ORGANISER_KINDS
from huzhu.common.identity import normalise_text
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.forms import looks_like_full_number
from huzhu.volunteers.models import Volunteer
from huzhu.volunteers.selectors import visible_volunteers, volunteer_lookup_number

CANDIDATES_SHOWN = 10


def organiser_orgs(*, scope: Scope) -> QuerySet[Org]:
    """Orgs in the scope where the user may publish activities and record service."""
    return (
        Org.objects.within(scope, Perm.ACTIVITY_MANAGE)
        .filter(kind__in=ORGANISER_KINDS, is_active=True)
        .order_by("path")
    )


def volunteer_candidates(*, scope: Scope, text: str) -> list[Volunteer]:
    """Volunteers visible to the organiser matching a full volunteer number, ID number or
    mobile number exactly, or a name (part of it, or its pinyin initials). The text comes
    from a POST, never a URL. At most ``CANDIDATES_SHOWN``."""
    text = (text or "").strip()[:50]
    compact = normalise_text(text)
    if not compact:
        return []
    if (compact.startswith("V") and compact[1:].isdigit()) or looks_like_full_number(compact):
        return volunteer_lookup_number(scope=scope, number=compact)[:CANDIDATES_SHOWN]
    lowered = compact.lower()
    condition = Q(person__name__contains=text.replace(" ", ""))
    if lowered.isascii() and lowered.isalpha():
        condition = Q(person__name_initials__startswith=lowered) | Q(
            person__name_pinyin__startswith=lowered
        )
    return list(
        visible_volunteers(scope)
        .filter(condition)
        .select_related("person", "org")
        .order_by("number")[:CANDIDATES_SHOWN]
    )


def volunteer_for_signup(*, scope: Scope, volunteer_id: int) -> Volunteer | None:
    """One visible volunteer by id (the choice made from the candidates), or None."""
    return visible_volunteers(scope).select_related("person", "org").filter(pk=volunteer_id).first()


def certificate_records(*, certificate: Certificate) -> QuerySet[ServiceRecord]:
    """The confirmed records an application covers (what issuing would freeze)."""
    return certified_records(certificate).select_related("category", "org")
