"""Reads of the notice boards (公示栏), the suggestion box (献良策), the contacts a community
publishes, and the public page of a community.

Who sees what:

* a notice: workers over its community (``VIEW``; moderating needs ``DESK_MANAGE``), the
  account that submitted it, and — once published — anyone signed in; everyone else gets the
  same 404 as for a missing id;
* a suggestion: workers over its community and its author;
* the public page: published notices, public suggestions with their replies, the community's
  phones and contacts — never a submitter's or author's name (an author who chose to be named
  appears masked, ``张**``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huzhu.desk.models import (
    MatterKind,
    Notice,
    NoticeKind,
    NoticeStatus,
    PublicContact,
    Suggestion,
    SuggestionStatus,
    Ticket,
    TicketStatus,
)
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person

NOTICE_NOT_FOUND = _("公示内容不存在或无权查看。")
SUGGESTION_NOT_FOUND = _("建议不存在或无权查看。")
CONTACT_NOT_FOUND = _("联系人不存在或无权查看。")
COMMUNITY_NOT_FOUND = _("社区不存在。")

# What a resident (a person of the community) may post; workers post every kind.
RESIDENT_KINDS = (NoticeKind.GOOD_DEED, NoticeKind.UNCIVIL)
# The columns of the public page, in order, and how many of each it shows.
PUBLIC_COLUMNS = (
    NoticeKind.NOTICE,
    NoticeKind.GOOD_DEED,
    NoticeKind.EXEMPLARY,
    NoticeKind.UNCIVIL,
)
PUBLIC_PER_COLUMN = 10
PUBLIC_SUGGESTIONS = 20


def _user_id(user: Any) -> int | None:
    return getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None


def person_of(user: Any) -> Person | None:
    """The signed-in user's resident record (with its org), or None."""
    if _user_id(user) is None:
        return None
    return Person.objects.select_related("org").filter(user_id=user.pk).first()


def community_choices(*, scope: Scope, perm: str = Perm.DESK_MANAGE) -> QuerySet[Org]:
    """Active communities on which the scope holds ``perm``, in tree order."""
    return Org.objects.filter(kind=OrgKind.COMMUNITY, is_active=True).within(scope, perm)


def contact_org_choices(*, scope: Scope, community: Org) -> QuerySet[Org]:
    """A community and its active grids: where its public contacts may hang."""
    return (
        Org.objects.within(scope, Perm.DESK_MANAGE)
        .filter(
            Q(pk=community.pk) | Q(kind=OrgKind.GRID, parent_id=community.pk),
            is_active=True,
        )
        .order_by("path")
    )


# --- notices ---------------------------------------------------------------------------------


def notice_base() -> QuerySet[Notice]:
    return Notice.objects.select_related("org", "volunteer__person", "submitted_by", "moderated_by")


@dataclass(frozen=True)
class NoticeAccess:
    """What one user is to one notice."""

    notice: Notice
    is_manager: bool = False  # DESK_MANAGE over its community: moderates
    can_view: bool = False  # VIEW over its community (oversight)
    is_submitter: bool = False

    @property
    def is_staff(self) -> bool:
        return self.is_manager or self.can_view


def notice_access(*, user: Any, scope: Scope, notice_id: int) -> NoticeAccess:
    """The notice and what ``user`` is to it; 404 for missing and not yours alike."""
    notice = notice_base().filter(pk=notice_id).first()
    if notice is None:
        raise Http404(NOTICE_NOT_FOUND)
    user_id = _user_id(user)
    access = NoticeAccess(
        notice=notice,
        is_manager=scope.can(Perm.DESK_MANAGE, notice.org),
        can_view=scope.can(Perm.VIEW, notice.org),
        is_submitter=user_id is not None and notice.submitted_by_id == user_id,
    )
    published = notice.status == NoticeStatus.PUBLISHED and user_id is not None
    if not (access.is_staff or access.is_submitter or published):
        raise Http404(NOTICE_NOT_FOUND)
    return access


def notice_list(
    *, scope: Scope, kind: str = "", status: str = "", org_id: int | None = None
) -> QuerySet[Notice]:
    """Notices in the scope, those waiting for moderation first, then newest first."""
    notices = notice_base().within(scope, Perm.VIEW)
    if kind:
        notices = notices.filter(kind=kind)
    if status:
        notices = notices.filter(status=status)
    if org_id:
        notices = notices.filter(org_id=org_id)
    pending_first = Case(
        When(status=NoticeStatus.PENDING, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return notices.order_by(pending_first, "-created_at", "-id")


def notice_status_counts(
    *, scope: Scope, kind: str = "", org_id: int | None = None
) -> dict[str, int]:
    """How many notices of each status the list (without its status filter) holds."""
    rows = notice_list(scope=scope, kind=kind, org_id=org_id).order_by()
    return dict(rows.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))


def my_notices(*, user: Any) -> QuerySet[Notice]:
    """What the user submitted, newest first."""
    user_id = _user_id(user)
    if user_id is None:
        return Notice.objects.none()
    return notice_base().filter(submitted_by_id=user_id).order_by("-created_at", "-id")


# --- suggestions -----------------------------------------------------------------------------


def suggestion_base() -> QuerySet[Suggestion]:
    return Suggestion.objects.select_related("org", "author", "replied_by")


@dataclass(frozen=True)
class SuggestionAccess:
    suggestion: Suggestion
    is_manager: bool = False  # DESK_MANAGE over its community: replies
    can_view: bool = False
    is_author: bool = False

    @property
    def is_staff(self) -> bool:
        return self.is_manager or self.can_view


def _is_author(suggestion: Suggestion, user: Any, person_id: int | None) -> bool:
    if person_id is not None and suggestion.author_id == person_id:
        return True
    user_id = _user_id(user)
    return user_id is not None and suggestion.submitted_by_id == user_id


def suggestion_access(*, user: Any, scope: Scope, suggestion_id: int) -> SuggestionAccess:
    """The suggestion and what ``user`` is to it; 404 for missing and not yours alike."""
    suggestion = suggestion_base().filter(pk=suggestion_id).first()
    if suggestion is None:
        raise Http404(SUGGESTION_NOT_FOUND)
    access = SuggestionAccess(
        suggestion=suggestion,
        is_manager=scope.can(Perm.DESK_MANAGE, suggestion.org),
        can_view=scope.can(Perm.VIEW, suggestion.org),
        is_author=_is_author(suggestion, user, scope.person_id),
    )
    if not (access.is_staff or access.is_author):
        raise Http404(SUGGESTION_NOT_FOUND)
    return access


def suggestion_list(
    *, scope: Scope, status: str = "", org_id: int | None = None, query: str = ""
) -> QuerySet[Suggestion]:
    """Suggestions in the scope; those not yet answered first, then newest first."""
    suggestions = suggestion_base().within(scope, Perm.VIEW)
    if status:
        suggestions = suggestions.filter(status=status)
    if org_id:
        suggestions = suggestions.filter(org_id=org_id)
    if query:
        suggestions = suggestions.filter(
            Q(number__icontains=query) | Q(title__icontains=query) | Q(body__icontains=query)
        )
    unanswered_first = Case(
        When(status=SuggestionStatus.RECEIVED, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return suggestions.order_by(unanswered_first, "-created_at", "-id")


def my_suggestions(*, user: Any) -> QuerySet[Suggestion]:
    """The author's own suggestions (by their resident record or their account)."""
    user_id = _user_id(user)
    if user_id is None:
        return Suggestion.objects.none()
    condition = Q(submitted_by_id=user_id, author__isnull=True) | Q(author__user_id=user_id)
    return suggestion_base().filter(condition).order_by("-created_at", "-id")


# --- contacts --------------------------------------------------------------------------------


def contact_list(*, scope: Scope, community: Org | None = None) -> QuerySet[PublicContact]:
    """Contacts a worker manages (``DESK_MANAGE``), under ``community`` when given."""
    contacts = PublicContact.objects.within(scope, Perm.DESK_MANAGE).select_related("org")
    if community is not None:
        contacts = contacts.filter(org__path__startswith=community.path)
    return contacts.order_by("org__path", "sort_order", "id")


def community_id_of(org: Org) -> int:
    """The community a community or grid (where contacts hang) belongs to."""
    return org.parent_id if org.kind == OrgKind.GRID and org.parent_id else org.pk


def contact_get(*, scope: Scope, contact_id: int) -> PublicContact:
    contact = (
        PublicContact.objects.within(scope, Perm.VIEW)
        .select_related("org")
        .filter(pk=contact_id)
        .first()
    )
    if contact is None:
        raise Http404(CONTACT_NOT_FOUND)
    return contact


def community_get(*, scope: Scope, org_id: int, perm: str = Perm.VIEW) -> Org:
    """An active community the scope holds ``perm`` on; 404 otherwise."""
    org = community_choices(scope=scope, perm=perm).filter(pk=org_id).first()
    if org is None:
        raise Http404(COMMUNITY_NOT_FOUND)
    return org


# --- the public page of a community ----------------------------------------------------------


@dataclass
class NoticeColumn:
    kind: str
    label: str
    notices: list[Notice] = field(default_factory=list)


@dataclass
class PublicCommunity:
    org: Org
    contacts: list[PublicContact]
    columns: list[NoticeColumn]
    suggestions: list[Suggestion]
    year: int
    reports_this_year: int
    reports_closed: int


def _public_org(org_id: int) -> Org:
    org = Org.objects.filter(pk=org_id, kind=OrgKind.COMMUNITY, is_active=True).first()
    if org is None:
        raise Http404(COMMUNITY_NOT_FOUND)
    return org


def public_contacts(org: Org) -> list[PublicContact]:
    """The contacts of the community and its active grids, community first."""
    return list(
        PublicContact.objects.filter(org__path__startswith=org.path, org__is_active=True)
        .select_related("org")
        .order_by("org__depth", "org__path", "sort_order", "id")
    )


def published_notices(org: Org, kind: str, limit: int = PUBLIC_PER_COLUMN) -> list[Notice]:
    return list(
        Notice.objects.filter(org=org, kind=kind, status=NoticeStatus.PUBLISHED)
        .select_related("volunteer__person")
        .order_by("-published_at", "-id")[:limit]
    )


def public_suggestions(org: Org, limit: int = PUBLIC_SUGGESTIONS) -> list[Suggestion]:
    """Suggestions the author chose to publish, once the community has answered them."""
    return list(
        Suggestion.objects.filter(org=org, is_public=True)
        .exclude(status=SuggestionStatus.RECEIVED)
        .select_related("author")
        .order_by("-replied_at", "-id")[:limit]
    )


def civic_report_counts(org: Org, year: int) -> tuple[int, int]:
    """Civic reports (文明评议) of the community registered in ``year``, and how many of them
    are closed; repeats linked to an earlier report are not counted again."""
    start = timezone.make_aware(dt.datetime(year, 1, 1))
    end = timezone.make_aware(dt.datetime(year + 1, 1, 1))
    counts = Ticket.objects.filter(
        org=org,
        matter_type__kind=MatterKind.CIVIC,
        duplicate_of__isnull=True,
        created_at__gte=start,
        created_at__lt=end,
    ).aggregate(
        total=Count("pk"),
        closed=Count("pk", filter=Q(status=TicketStatus.CLOSED)),
    )
    return counts["total"], counts["closed"]


def public_community(*, org_id: int) -> PublicCommunity:
    """Everything the public page of a community shows; 404 for anything but an active
    community."""
    org = _public_org(org_id)
    year = timezone.localdate().year
    total, closed = civic_report_counts(org, year)
    return PublicCommunity(
        org=org,
        contacts=public_contacts(org),
        columns=[
            NoticeColumn(kind=kind, label=str(kind.label), notices=published_notices(org, kind))
            for kind in PUBLIC_COLUMNS
        ],
        suggestions=public_suggestions(org),
        year=year,
        reports_this_year=total,
        reports_closed=closed,
    )
