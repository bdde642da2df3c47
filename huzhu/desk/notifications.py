"""Who hears what when a ticket moves. Called after commit by the services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.common.services import notify
from huzhu.desk.models import Channel, EscalationLevel, Ticket
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Role


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


def _tell(users: Iterable[Any], ticket: Ticket, kind: str, title: str, body: str = "") -> None:
    seen: set[int] = set()
    for user in users:
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        notify(user=user, kind=kind, title=title, body=body, url=_url(ticket))


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


def closed(*, ticket: Ticket) -> None:
    _tell(
        [ticket.receiver, *_team(ticket)],
        ticket,
        "desk.ticket.close",
        _("工单办结：%(t)s") % {"t": ticket.title},
    )
    for duplicate in ticket.duplicates.select_related("reporter__user", "submitted_by"):
        _tell_reporter(
            duplicate,
            "desk.ticket.close",
            _("您反映的事项已办结：%(t)s") % {"t": duplicate.title},
            ticket.result[:200],
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


def escalated(*, ticket: Ticket, level: int) -> None:
    """The street's (or district's) workers, admins and supervisors hear of overdue work."""
    kind = OrgKind.STREET if level == EscalationLevel.STREET else OrgKind.DISTRICT
    above = _ancestor(ticket.org, kind)
    users = _users_with([above.pk], (Role.WORKER, Role.ADMIN, Role.SUPERVISOR)) if above else []
    _tell(
        [*users, ticket.receiver, *_team(ticket)],
        ticket,
        "desk.ticket.escalate",
        _("%(level)s：%(t)s 已逾期") % {"level": EscalationLevel(level).label, "t": ticket.title},
        _("办理期限：%(d)s") % {"d": ticket.due_date},
    )
