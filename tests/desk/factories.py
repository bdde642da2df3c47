"""Desk test data made through the real services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from huzhu.desk.models import Channel, MatterType, PatrolTeam, Ticket, TicketStatus
from huzhu.desk.selectors import TicketAccess, access_for
from huzhu.desk.services import (
    FollowUp,
    TicketInput,
    ticket_accept,
    ticket_acknowledge,
    ticket_assign,
    ticket_create,
    ticket_follow_up,
    ticket_resolve,
)
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from tests.factories import UserFactory, grant, make_org


def matter(code: str) -> MatterType:
    return MatterType.objects.get(code=code)


def patrol_team(community: Org, grid: Org, name: str = "巡查队") -> Org:
    """A corps and a patrol team under the community, serving ``grid``."""
    corps = Org.objects.filter(parent=community, kind=OrgKind.CORPS).first() or make_org(
        OrgKind.CORPS, f"{community.name}志愿者总队", community
    )
    team = make_org(OrgKind.TEAM, f"{community.name}{name}", corps)
    PatrolTeam.objects.create(grid=grid, team=team)
    return team


def team_leader(team: Org, username: str) -> Any:
    user = UserFactory(username=username)
    grant(user, team, Role.TEAM_LEADER)
    return user


def access(user: Any, ticket: Ticket) -> TicketAccess:
    ticket.refresh_from_db()
    return access_for(user=user, scope=Scope.for_user(user), ticket=ticket)


def report(
    actor: Any,
    org: Org,
    code: str = "civic-flyposting",
    description: str = "3号楼单元门口贴满小广告",
    channel: str = Channel.MOBILE,
    **kwargs: Any,
) -> Ticket:
    client_address = kwargs.pop("client_address", "")
    data = TicketInput(
        matter_type_id=matter(code).pk,
        description=description,
        channel=channel,
        org_id=org.pk,
        address=kwargs.pop("address", "3号楼1单元"),
        **kwargs,
    )
    return ticket_create(
        actor=actor,
        scope=Scope.for_user(actor) if actor is not None else Scope.anonymous(),
        data=data,
        client_address=client_address,
    )


def run_to(
    ticket: Ticket,
    status: str,
    *,
    worker: Any,
    handler: Any,
    today: dt.date | None = None,
    result: str = "已处理完毕",
) -> Ticket:
    """Move a registered ticket through the services up to ``status`` (accepted, assigned,
    in_progress, resolved or closed): ``worker`` accepts, assigns and records the
    satisfied follow-up, ``handler`` (a team leader or worker of the team) acknowledges and
    resolves."""
    order = [
        TicketStatus.ACCEPTED,
        TicketStatus.ASSIGNED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.RESOLVED,
        TicketStatus.CLOSED,
    ]
    for step in order[: order.index(status) + 1]:
        if step == TicketStatus.ACCEPTED:
            ticket = ticket_accept(actor=worker, access=access(worker, ticket), today=today)
        elif step == TicketStatus.ASSIGNED:
            ticket = ticket_assign(actor=worker, access=access(worker, ticket))
        elif step == TicketStatus.IN_PROGRESS:
            ticket = ticket_acknowledge(actor=handler, access=access(handler, ticket))
        elif step == TicketStatus.RESOLVED:
            ticket = ticket_resolve(actor=handler, access=access(handler, ticket), result=result)
        else:
            ticket = ticket_follow_up(
                actor=worker,
                access=access(worker, ticket),
                data=FollowUp(satisfied=True, rating=5, on_behalf=True),
            )
    return ticket
