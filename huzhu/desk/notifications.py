"""Who hears what when a ticket moves. Called after commit by the services.

``muted()`` silences the desk for a block of service calls (the demo seed replays a year of
tickets through the services and must not flood the demo logins with notifications).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.common.services import notify
from huzhu.desk.models import Channel, EscalationLevel, Ticket
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Role

_MUTED: ContextVar[bool] = ContextVar("desk_notifications_muted", default=False)


@contextlib.contextmanager
def muted() -> Iterator[None]:
    """Service calls inside the block notify nobody."""
    token = _MUTED.set(True)
    try:
        yield
    finally:
        _MUTED.reset(token)


def after_commit(send: Callable[[], None]) -> None:
    """Run ``send`` once the transaction commits, unless notifications are muted now."""
    if not _MUTED.get():
        transaction.on_commit(send)


def _url(ticket: Ticket) -> str:
    return reverse("desk:ticket_detail", args=[ticket.pk])


def _my_url(ticket: Ticket) -> str:
    return reverse("desk:my_ticket", args=[ticket.pk])


def _users_with(org_ids: Iterable[int], roles: Iterable[str]) -> list[Any]:
    return list(
        get_user_model()
        .objects.filter(
            is_active=True, role_grants__org_id__in=list(org_ids), role_grants__role__in=list(roles)
        )
        .distinct()
        .order_by("pk")
    )


def _reporter_user(ticket: Ticket) -> Any:
    if ticket.reporter_id is not None:
        return getattr(ticket.reporter, "user", None)
    return ticket.submitted_by


def _workers(ticket: Ticket) -> list[Any]:
    return _users_with([ticket.org_id], (Role.WORKER, Role.ADMIN))


def _team(ticket: Ticket) -> list[Any]:
    if ticket.team_id is None:
        return []
    return _users_with([ticket.team_id], (Role.TEAM_LEADER, Role.WORKER, Role.ADMIN))


def _tell(
    users: Iterable[Any],
    ticket: Ticket,
    kind: str,
    title: str,
    body: str = "",
    dedupe_key: str = "",
) -> None:
    seen: set[int] = set()
    for user in users:
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        notify(
            user=user, kind=kind, title=title, body=body, url=_url(ticket), dedupe_key=dedupe_key
        )


def _tell_reporter(ticket: Ticket, kind: str, title: str, body: str = "") -> None:
    user = _reporter_user(ticket)
    if user is not None:
        notify(user=user, kind=kind, title=title, body=body, url=_my_url(ticket))


def created(*, ticket: Ticket) -> None:
    """A matter from outside the desk reaches the community's workers."""
    if ticket.channel in (Channel.WALK_IN, Channel.PHONE):
        return
    _tell(
        _workers(ticket),
        ticket,
        "desk.ticket.create",
        _("新的工单：%(t)s") % {"t": ticket.title},
        _("%(matter)s · %(channel)s")
        % {"matter": ticket.matter_type.name, "channel": Channel(ticket.channel).label},
    )


def accepted(*, ticket: Ticket) -> None:
    _tell_reporter(
        ticket,
        "desk.ticket.accept",
        _("您反映的事项已受理：%(t)s") % {"t": ticket.title},
        _("办理期限：%(d)s") % {"d": ticket.due_date},
    )


def assigned(*, ticket: Ticket) -> None:
    _tell(
        _team(ticket),
        ticket,
        "desk.ticket.assign",
        _("派单：%(t)s") % {"t": ticket.title},
        _("请在 2 个工作日内签收或回退；办理期限：%(d)s") % {"d": ticket.due_date},
    )


def returned(*, ticket: Ticket, reason: str) -> None:
    _tell(
        [ticket.receiver],
        ticket,
        "desk.ticket.return",
        _("工单被回退：%(t)s") % {"t": ticket.title},
        reason,
    )


def extension_requested(*, ticket: Ticket) -> None:
    _tell(
        [ticket.receiver] if ticket.receiver else _workers(ticket),
        ticket,
        "desk.ticket.extension",
        _("延期申请：%(t)s") % {"t": ticket.title},
        ticket.extension_reason,
    )


def extension_decided(*, ticket: Ticket, approve: bool) -> None:
    title = _("延期已批准：%(t)s") if approve else _("延期未批准：%(t)s")
    _tell(_team(ticket), ticket, "desk.ticket.extension", title % {"t": ticket.title})


def resolved(*, ticket: Ticket) -> None:
    _tell_reporter(
        ticket,
        "desk.ticket.resolve",
        _("您反映的事项有了办理结果：%(t)s") % {"t": ticket.title},
        _("请查看结果并评价。"),
    )
    _tell(
        [ticket.receiver], ticket, "desk.ticket.resolve", _("待回访：%(t)s") % {"t": ticket.title}
    )


def answered(*, ticket: Ticket) -> None:
    """当场答复: the reporter hears the answer, and so do those whose reports were linked
    (the worker who answered has nothing left to do)."""
    _tell_reporter(
        ticket,
        "desk.ticket.answer",
        _("您反映的事项已答复：%(t)s") % {"t": ticket.title},
        ticket.result[:200],
    )
    _tell_duplicates(ticket)


def closed(*, ticket: Ticket) -> None:
    _tell(
        [ticket.receiver, *_team(ticket)],
        ticket,
        "desk.ticket.close",
        _("工单办结：%(t)s") % {"t": ticket.title},
    )
    _tell_duplicates(ticket)


def _tell_duplicates(ticket: Ticket) -> None:
    for duplicate in ticket.duplicates.select_related("reporter__user", "submitted_by"):
        duplicate_closed(duplicate=duplicate, original=ticket)


def duplicate_closed(*, duplicate: Ticket, original: Ticket) -> None:
    """A linked report's reporter hears the result of the original."""
    _tell_reporter(
        duplicate,
        "desk.ticket.close",
        _("您反映的事项已办结：%(t)s") % {"t": duplicate.title},
        original.result[:200],
    )


def reopened(*, ticket: Ticket) -> None:
    _tell(
        [ticket.receiver, *_team(ticket)],
        ticket,
        "desk.ticket.reopen",
        _("居民不满意，退回重办：%(t)s") % {"t": ticket.title},
        ticket.rating_comment,
    )


def _ancestor(org: Org, kind: str) -> Org | None:
    return Org.objects.ancestors_of(org).filter(kind=kind).first()


def escalated(*, ticket: Ticket, level: int, previous: int = EscalationLevel.NONE) -> None:
    """The street's (and, at the next level, the district's) workers, admins and supervisors
    hear of overdue work, with the receiver and the team. A ticket that skipped the street
    (the job did not run for days) tells both levels. Each user hears of each level once."""
    kinds = {EscalationLevel.STREET: OrgKind.STREET, EscalationLevel.DISTRICT: OrgKind.DISTRICT}
    above = [
        org
        for step in range(previous + 1, level + 1)
        if (org := _ancestor(ticket.org, kinds[EscalationLevel(step)])) is not None
    ]
    users = _users_with([org.pk for org in above], (Role.WORKER, Role.ADMIN, Role.SUPERVISOR))
    _tell(
        [*users, ticket.receiver, *_team(ticket)],
        ticket,
        "desk.ticket.escalate",
        _("%(level)s：%(t)s 已逾期") % {"level": EscalationLevel(level).label, "t": ticket.title},
        _("办理期限：%(d)s") % {"d": ticket.due_date},
        dedupe_key=f"desk.escalate.{ticket.pk}.{level}",
    )
