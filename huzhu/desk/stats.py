"""The figures of the service desk for supervisors (统计分析, issue 7 §7).

Every figure is over the tickets the reader may VIEW (``Ticket.objects.within(scope)``),
registered (``created_at``, local dates) within a period — this calendar year unless told —
and optionally under one street, community or grid of the reader's subtree:

* counts by matter type, channel, grid and month (every month of the period, zeros included);
* open (not yet 办结) and closed, and how many wait for the follow-up (回访);
* the median time to close in hours, over closed tickets that were handled — duplicates
  (并案) and withdrawn matters are left out;
* the share closed on time: handled closed tickets that had a deadline and met it, over
  handled closed tickets that had a deadline (a consultation answered on the spot before it
  was accepted has none);
* overdue now: open tickets whose deadline has passed;
* escalations by level (the level each ticket reached);
* satisfaction: how many were rated, the average rating, the share rated 4 or 5, and how many
  were sent back (退回重办) at least once.

Everything is aggregated in the database: one aggregate query, one grouped query per
breakdown and one for the median (the middle row or two of the closed durations in order), so
the number of queries does not grow with the number of tickets. The same SQL runs on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.desk.models import (
    RUNNING_STATUSES,
    Channel,
    CloseReason,
    EscalationLevel,
    Ticket,
    TicketStatus,
)
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope

# The orgs a supervisor may narrow the figures to.
STATS_ORG_KINDS = (OrgKind.STREET, OrgKind.COMMUNITY, OrgKind.GRID)
# Closed tickets that were not handled: left out of the time to close and the on-time share.
UNHANDLED_REASONS = (CloseReason.DUPLICATE, CloseReason.WITHDRAWN)
SATISFIED_FROM = 4  # a rating of 4 or 5 stars counts as satisfied
MAX_PERIOD_DAYS = 5 * 366
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2099, 12, 31)


# --- the filters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsFilters:
    date_from: dt.date
    date_to: dt.date
    org_id: int | None = None


def default_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """This calendar year."""
    year = (today or timezone.localdate()).year
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def period_errors(date_from: dt.date | None, date_to: dt.date | None) -> dict[str, list[str]]:
    """What is wrong with a period given by a form or the API (nothing: ``{}``)."""
    errors: dict[str, list[str]] = {}
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        if value is not None and not EARLIEST <= value <= LATEST:
            errors[name] = [
                _("日期应在 %(first)s 至 %(last)s 之间。") % {"first": EARLIEST, "last": LATEST}
            ]
    if errors or date_from is None or date_to is None:
        return errors
    if date_to < date_from:
        errors["date_to"] = [_("结束日期不能早于开始日期。")]
    elif (date_to - date_from).days >= MAX_PERIOD_DAYS:
        errors["date_to"] = [_("统计期间不能超过 5 年。")]
    return errors


def stats_filters(
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    org_id: int | None = None,
    today: dt.date | None = None,
) -> StatsFilters:
    """The filters for a period where either end may be missing: a missing start is 1 January
    and a missing end 31 December of the other end's year (or of this year). Raises
    ``ValidationError`` for a period that is reversed, too long or out of range."""
    errors = period_errors(date_from, date_to)
    if errors:
        raise ValidationError(errors)
    if date_from is None and date_to is None:
        date_from, date_to = default_period(today)
    elif date_from is None:
        date_from = dt.date(date_to.year, 1, 1)  # type: ignore[union-attr]
    elif date_to is None:
        date_to = dt.date(date_from.year, 12, 31)
    errors = period_errors(date_from, date_to)
    if errors:
        raise ValidationError(errors)
    return StatsFilters(date_from=date_from, date_to=date_to, org_id=org_id)  # type: ignore[arg-type]


def stats_orgs(*, scope: Scope) -> QuerySet[Org]:
    """Streets, communities and grids the reader may VIEW, in tree order."""
    return (
        Org.objects.within(scope, Perm.VIEW)  # type: ignore[attr-defined]
        .filter(kind__in=STATS_ORG_KINDS, is_active=True)
        .order_by("path")
    )


def stats_org(*, scope: Scope, org_id: int | None) -> Org | None:
    """The org the figures are narrowed to; 404 for one outside the reader's scope."""
    if not org_id:
        return None
    org = stats_orgs(scope=scope).filter(pk=org_id).first()
    if org is None:
        raise Http404(_("组织不存在或无权查看。"))
    return org


def scope_label(*, scope: Scope, org: Org | None) -> str:
    """The scope in words, for the page and the export's header: the chosen org, or the
    orgs at the roots of the reader's VIEW."""
    if org is not None:
        return org.name
    roots = scope.roots(Perm.VIEW)
    if "/" in roots:
        return _("全部组织")
    names = Org.objects.filter(path__in=roots).order_by("path").values_list("name", flat=True)
    return "、".join(names)


# --- the figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: ``key`` is stable (a code, an id, ``2025-03``), ``label`` is
    shown; ``group`` is the community of a grid."""

    key: str
    label: str
    count: int
    group: str = ""


@dataclass(frozen=True)
class DeskStats:
    date_from: dt.date
    date_to: dt.date
    org_id: int | None
    org_name: str
    scope_label: str
    total: int = 0
    open: int = 0  # not yet closed (办结), including those awaiting the follow-up
    awaiting_follow_up: int = 0
    closed: int = 0
    overdue: int = 0
    handled_closed: int = 0  # closed, neither a duplicate nor withdrawn
    median_close_hours: float | None = None
    with_deadline: int = 0
    closed_on_time: int = 0
    on_time_share: float | None = None
    escalated_street: int = 0
    escalated_district: int = 0
    rated: int = 0
    average_rating: float | None = None
    satisfied: int = 0
    satisfied_share: float | None = None
    reopened: int = 0
    by_category: list[Row] = field(default_factory=list)
    by_channel: list[Row] = field(default_factory=list)
    by_grid: list[Row] = field(default_factory=list)
    by_month: list[Row] = field(default_factory=list)
    by_escalation: list[Row] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def on_time_percent(self) -> float | None:
        return _percent(self.on_time_share)

    @property
    def satisfied_percent(self) -> float | None:
        return _percent(self.satisfied_share)

    @property
    def is_empty(self) -> bool:
        return self.total == 0

    def chart_data(self) -> dict[str, Any]:
        """What the page's charts draw (passed with ``json_script``)."""

        def pairs(rows: list[Row], grouped: bool = False) -> dict[str, list[Any]]:
            return {
                "labels": [
                    f"{r.group} {r.label}" if grouped and r.group else r.label for r in rows
                ],
                "values": [r.count for r in rows],
            }

        return {
            "category": pairs(self.by_category),
            "channel": pairs(self.by_channel),
            "grid": pairs(self.by_grid, grouped=True),
            "month": pairs(self.by_month),
            "status": {
                "labels": [_("办理中"), _("待回访"), _("已办结")],
                "values": [
                    self.open - self.awaiting_follow_up,
                    self.awaiting_follow_up,
                    self.closed,
                ],
            },
        }


def _percent(share: float | None) -> float | None:
    return round(share * 100, 1) if share is not None else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def period_tickets(*, scope: Scope, filters: StatsFilters, org: Org | None) -> QuerySet[Ticket]:
    """The tickets the figures are over."""
    tickets = Ticket.objects.within(scope).filter(  # type: ignore[attr-defined]
        created_at__gte=_start_of(filters.date_from),
        created_at__lt=_start_of(filters.date_to + dt.timedelta(days=1)),
    )
    if org is not None:
        tickets = tickets.filter(
            Q(org__path__startswith=org.path) | Q(grid__path__startswith=org.path)
        )
    return tickets


def _handled() -> Q:
    return Q(status=TicketStatus.CLOSED) & ~Q(close_reason__in=UNHANDLED_REASONS)


def _totals(tickets: QuerySet[Ticket], today: dt.date) -> dict[str, Any]:
    handled = _handled()
    deadline = handled & Q(due_date__isnull=False)
    return tickets.order_by().aggregate(
        total=Count("pk"),
        closed=Count("pk", filter=Q(status=TicketStatus.CLOSED)),
        awaiting_follow_up=Count("pk", filter=Q(status=TicketStatus.RESOLVED)),
        overdue=Count("pk", filter=Q(status__in=RUNNING_STATUSES, due_date__lt=today)),
        handled_closed=Count("pk", filter=handled),
        with_deadline=Count("pk", filter=deadline),
        closed_on_time=Count("pk", filter=deadline & Q(closed_on_time=True)),
        escalated_street=Count("pk", filter=Q(escalation_level=EscalationLevel.STREET)),
        escalated_district=Count("pk", filter=Q(escalation_level=EscalationLevel.DISTRICT)),
        rated=Count("pk", filter=Q(rating__isnull=False)),
        average_rating=Avg("rating"),
        satisfied=Count("pk", filter=Q(rating__gte=SATISFIED_FROM)),
        reopened=Count("pk", filter=Q(reopen_count__gt=0)),
    )


def _median_hours(tickets: QuerySet[Ticket], count: int) -> float | None:
    """The median of (closed_at − created_at) over the handled closed tickets: only the
    middle one or two durations are read, in duration order."""
    if not count:
        return None
    durations = (
        tickets.filter(_handled())
        .annotate(
            took=ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
        )
        .order_by("took", "pk")
        .values_list("took", flat=True)
    )
    middle = (count - 1) // 2
    values = list(durations[middle : middle + (1 if count % 2 else 2)])
    seconds = sum(value.total_seconds() for value in values) / len(values)
    return round(seconds / 3600, 2)


def _sorted(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (-r.count, r.group, r.label, r.key))


def _by_category(tickets: QuerySet[Ticket]) -> list[Row]:
    groups = (
        tickets.order_by().values("matter_type_id", "matter_type__name").annotate(count=Count("pk"))
    )
    return _sorted(
        [Row(str(g["matter_type_id"]), g["matter_type__name"], g["count"]) for g in groups]
    )


def _by_channel(tickets: QuerySet[Ticket]) -> list[Row]:
    groups = tickets.order_by().values("channel").annotate(count=Count("pk"))
    labels = dict(Channel.choices)
    return _sorted(
        [Row(g["channel"], str(labels.get(g["channel"], g["channel"])), g["count"]) for g in groups]
    )


def _by_grid(tickets: QuerySet[Ticket]) -> list[Row]:
    """Per grid (with its community); tickets without a grid per community."""
    groups = (
        tickets.order_by()
        .values("grid_id", "grid__name", "org_id", "org__name")
        .annotate(count=Count("pk"))
    )
    rows = []
    for g in groups:
        if g["grid_id"] is None:
            key, label = f"org-{g['org_id']}", _("未划分网格")
        else:
            key, label = str(g["grid_id"]), g["grid__name"]
        rows.append(Row(key, label, g["count"], group=g["org__name"]))
    return _sorted(rows)


def _months(date_from: dt.date, date_to: dt.date) -> list[str]:
    keys = []
    year, month = date_from.year, date_from.month
    while (year, month) <= (date_to.year, date_to.month):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


def _by_month(tickets: QuerySet[Ticket], filters: StatsFilters) -> list[Row]:
    """Every month of the period, in order, by local registration time."""
    groups = (
        tickets.order_by()
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(count=Count("pk"))
    )
    counts: dict[str, int] = {}
    for g in groups:
        month = g["month"]
        if timezone.is_aware(month):
            month = timezone.localtime(month)
        key = f"{month.year:04d}-{month.month:02d}"
        counts[key] = counts.get(key, 0) + g["count"]
    return [
        Row(key, key, counts.get(key, 0)) for key in _months(filters.date_from, filters.date_to)
    ]


def desk_stats(*, scope: Scope, filters: StatsFilters, today: dt.date | None = None) -> DeskStats:
    """The figures for ``filters`` over the tickets ``scope`` may VIEW (see the module's
    doc). 404 when ``filters.org_id`` is outside the scope."""
    today = today or timezone.localdate()
    org = stats_org(scope=scope, org_id=filters.org_id)
    tickets = period_tickets(scope=scope, filters=filters, org=org)
    totals = _totals(tickets, today)
    average = totals.pop("average_rating")
    return DeskStats(
        date_from=filters.date_from,
        date_to=filters.date_to,
        org_id=org.pk if org else None,
        org_name=org.name if org else "",
        scope_label=scope_label(scope=scope, org=org),
        **totals,
        open=totals["total"] - totals["closed"],
        median_close_hours=_median_hours(tickets, totals["handled_closed"]),
        on_time_share=_share(totals["closed_on_time"], totals["with_deadline"]),
        average_rating=round(float(average), 2) if average is not None else None,
        satisfied_share=_share(totals["satisfied"], totals["rated"]),
        by_category=_by_category(tickets),
        by_channel=_by_channel(tickets),
        by_grid=_by_grid(tickets),
        by_month=_by_month(tickets, filters),
        by_escalation=[
            Row(
                str(EscalationLevel.STREET.value),
                str(EscalationLevel.STREET.label),
                totals["escalated_street"],
            ),
            Row(
                str(EscalationLevel.DISTRICT.value),
                str(EscalationLevel.DISTRICT.label),
                totals["escalated_district"],
            ),
        ],
    )
