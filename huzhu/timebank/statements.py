"""Statements (流水) of one time-bank account: its entries over a period with the running
balance, monthly and yearly summaries, and the Excel and PDF renderings.

Reads only. The running balance is each entry's stored ``balance_after`` (written under the
account's lock, so it is exact); the summaries are sums of entries grouped by local month in
the database, and each month's closing balance is the opening balance plus the nets so far.
Amounts are integer minutes everywhere, so nothing is lost to rounding; hours are shown
beside them for reading.

Who may read an account: its holder, and anyone with ``TIMEBANK_VIEW`` over the account's
org. Anyone else gets a 404, like a missing account. No identity number is ever shown;
names of counterparties are masked.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from xml.sax.saxutils import escape

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from huzhu.common.identity import mask_name
from huzhu.common.pdf import FONT, GRID, HEAD_BACKGROUND, PageCountingCanvas, cjk_font
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.timebank.ledger import hours
from huzhu.timebank.models import Account, Entry

# --- who may read which account ------------------------------------------------------------


def my_person(scope: Scope) -> Person | None:
    """The signed-in user's own resident record, or None."""
    if scope.person_id is None:
        return None
    return Person.objects.select_related("org").filter(pk=scope.person_id).first()


def account_get(*, scope: Scope, account_id: int) -> Account:
    """An account the caller may read: their own, or one in their ``TIMEBANK_VIEW`` scope.
    Anything else is a 404."""
    account = Account.objects.select_related("person", "org").filter(pk=account_id).first()
    if account is None:
        raise Http404
    own = scope.person_id is not None and account.person_id == scope.person_id
    if own or scope.can(Perm.TIMEBANK_VIEW, account.org):
        return account
    raise Http404


def is_own(scope: Scope, account: Account) -> bool:
    return scope.person_id is not None and account.person_id == scope.person_id


def account_entries(account: Account) -> QuerySet[Entry]:
    """The account's entries, newest first, with their transfers and the other legs (for
    the counterparty) fetched in a fixed number of queries whatever the page size."""
    return (
        Entry.objects.filter(account=account)
        .select_related("transfer")
        .prefetch_related(_other_legs())
        .order_by("-id")
    )


def _other_legs() -> Prefetch:
    return Prefetch(
        "transfer__entries",
        queryset=Entry.objects.select_related("account__person", "account__org").order_by("id"),
    )


def account_label(account: Account) -> str:
    """How an account is named to someone who is not its holder: a masked name for a
    person, the org and the kind of account for the others."""
    if account.person_id:
        return mask_name(account.person.name)
    return _("%(org)s（%(kind)s）") % {"org": account.org.name, "kind": account.get_kind_display()}


def holder_label(account: Account, *, full_name: bool) -> str:
    """The account holder as a statement's header shows it."""
    if account.person_id:
        return account.person.name if full_name else mask_name(account.person.name)
    return account_label(account)


def counterparty(entry: Entry) -> str:
    """The other side of the entry's transfer (legs prefetched by ``account_entries``)."""
    labels: list[str] = []
    for leg in entry.transfer.entries.all():
        if leg.account_id == entry.account_id:
            continue
        label = account_label(leg.account)
        if label not in labels:
            labels.append(label)
    return "、".join(labels)


# --- the period ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    @property
    def since(self) -> dt.datetime:
        return _local_midnight(self.start)

    @property
    def until(self) -> dt.datetime:
        """The first moment after the period."""
        return _local_midnight(self.end + dt.timedelta(days=1))

    @property
    def label(self) -> str:
        return _("%(start)s 至 %(end)s") % {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _month_end(year: int, month: int) -> dt.date:
    first_next = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def period_of(account: Account, *, year: int | None = None, month: int | None = None) -> Period:
    """A month (``year`` and ``month``), a calendar year (``year``), or the account's whole
    history up to today (neither). A month without a year is a 422 on ``month``."""
    if month is not None:
        if year is None:
            raise ValidationError({"month": _("指定月份时须同时指定年份")})
        if not 1 <= month <= 12:
            raise ValidationError({"month": _("月份应在 1 到 12 之间")})
        return Period(dt.date(year, month, 1), _month_end(year, month))
    if year is not None:
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31))
    today = timezone.localdate()
    first = (
        Entry.objects.filter(account=account)
        .order_by("id")
        .values_list("created_at", flat=True)
        .first()
    )
    start = timezone.localtime(first).date() if first else today
    return Period(min(start, today), today)


# --- summaries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthSummary:
    year: int
    month: int
    in_minutes: int
    out_minutes: int  # positive: what left the account
    closing_minutes: int

    @property
    def net_minutes(self) -> int:
        return self.in_minutes - self.out_minutes


@dataclass(frozen=True)
class YearSummary:
    year: int
    in_minutes: int
    out_minutes: int
    closing_minutes: int

    @property
    def net_minutes(self) -> int:
        return self.in_minutes - self.out_minutes


@dataclass(frozen=True)
class Summary:
    account: Account
    period: Period
    opening_minutes: int
    months: tuple[MonthSummary, ...]
    years: tuple[YearSummary, ...]

    @property
    def in_minutes(self) -> int:
        return sum(m.in_minutes for m in self.months)

    @property
    def out_minutes(self) -> int:
        return sum(m.out_minutes for m in self.months)

    @property
    def net_minutes(self) -> int:
        return self.in_minutes - self.out_minutes

    @property
    def closing_minutes(self) -> int:
        return self.opening_minutes + self.net_minutes


def opening_balance(account: Account, since: dt.datetime) -> int:
    """The balance just before ``since``: the last earlier entry's ``balance_after``."""
    value = (
        Entry.objects.filter(account=account, created_at__lt=since)
        .order_by("-id")
        .values_list("balance_after", flat=True)
        .first()
    )
    return value or 0


def _months_in(period: Period, today: dt.date) -> list[tuple[int, int]]:
    """Every (year, month) of the period up to the current month."""
    last = min(period.end, today)
    months = []
    year, month = period.start.year, period.start.month
    while (year, month) <= (last.year, last.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _flows_by_month(account: Account, period: Period) -> dict[tuple[int, int], tuple[int, int]]:
    rows = (
        Entry.objects.filter(
            account=account, created_at__gte=period.since, created_at__lt=period.until
        )
        .annotate(month=TruncMonth("created_at"))
        .order_by()
        .values("month")
        .annotate(
            inflow=Sum("amount", filter=Q(amount__gt=0)),
            outflow=Sum("amount", filter=Q(amount__lt=0)),
        )
    )
    result = {}
    for row in rows:
        local = (
            timezone.localtime(row["month"]) if timezone.is_aware(row["month"]) else row["month"]
        )
        result[(local.year, local.month)] = (row["inflow"] or 0, -(row["outflow"] or 0))
    return result


def summarize(account: Account, period: Period) -> Summary:
    """In, out, net and closing balance per month and per year of ``period`` (3 queries)."""
    opening = opening_balance(account, period.since)
    flows = _flows_by_month(account, period)
    keys = sorted(set(_months_in(period, timezone.localdate())) | set(flows))
    balance = opening
    months = []
    for year, month in keys:
        inflow, outflow = flows.get((year, month), (0, 0))
        balance += inflow - outflow
        months.append(MonthSummary(year, month, inflow, outflow, balance))
    years: dict[int, YearSummary] = {}
    for m in months:
        before = years.get(m.year)
        years[m.year] = YearSummary(
            m.year,
            (before.in_minutes if before else 0) + m.in_minutes,
            (before.out_minutes if before else 0) + m.out_minutes,
            m.closing_minutes,
        )
    return Summary(account, period, opening, tuple(months), tuple(years.values()))


# --- lines ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    entry_id: int
    transfer_id: int
    at: dt.datetime  # local time
    kind: str
    kind_label: str
    memo: str
    counterparty: str
    amount: int
    balance_after: int

    @property
    def in_minutes(self) -> int:
        return self.amount if self.amount > 0 else 0

    @property
    def out_minutes(self) -> int:
        return -self.amount if self.amount < 0 else 0


def statement_lines(account: Account, period: Period) -> Iterator[Line]:
    """The period's entries, oldest first, each with the balance right after it. Read in
    chunks with the counterparties prefetched: memory stays flat for a busy pool account."""
    entries = (
        Entry.objects.filter(
            account=account, created_at__gte=period.since, created_at__lt=period.until
        )
        .select_related("transfer")
        .prefetch_related(_other_legs())
        .order_by("id")
    )
    for entry in entries.iterator(chunk_size=1000):
        yield Line(
            entry_id=entry.pk,
            transfer_id=entry.transfer_id,
            at=timezone.localtime(entry.created_at),
            kind=entry.transfer.kind,
            kind_label=str(entry.transfer.get_kind_display()),
            memo=entry.transfer.memo,
            counterparty=counterparty(entry),
            amount=entry.amount,
            balance_after=entry.balance_after,
        )


@dataclass(frozen=True)
class Statement:
    summary: Summary
    holder: str
    lines: Iterable[Line]
    exported_by: str
    exported_at: dt.datetime

    @property
    def account(self) -> Account:
        return self.summary.account


def statement_for(
    account: Account, period: Period, *, full_name: bool, exported_by: str
) -> Statement:
    return Statement(
        summary=summarize(account, period),
        holder=holder_label(account, full_name=full_name),
        lines=statement_lines(account, period),
        exported_by=exported_by,
        exported_at=timezone.localtime(),
    )


def with_hours(minutes: int) -> str:
    """ "90 分钟（1.5 小时）"."""
    return _("%(m)d 分钟（%(h)s 小时）") % {"m": minutes, "h": hours(minutes)}


# --- Excel ---------------------------------------------------------------------------------

# The file's layout (tests and anyone reading the file rely on it).
SHEET_LINES = "流水"
SHEET_SUMMARY = "汇总"
LINE_HEADERS = (
    "日期",
    "类型",
    "摘要",
    "对方",
    "收入（分钟）",
    "支出（分钟）",
    "余额（分钟）",
)
LINE_WIDTHS = (18, 12, 30, 22, 12, 12, 12)
SUMMARY_HEADERS = (
    "年份",
    "月份",
    "收入（分钟）",
    "支出（分钟）",
    "净额（分钟）",
    "期末余额（分钟）",
)
DATE_FORMAT = "yyyy-mm-dd hh:mm"


def _text(ws: Any, value: str) -> Any:
    """A text cell never read as a formula (a memo typed as "=HYPERLINK(…)")."""
    if value[:1] in ("=", "+", "-", "@"):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def _watermark(statement: Statement) -> str:
    return _("导出人：%(user)s 时间：%(when)s") % {
        "user": statement.exported_by,
        "when": f"{statement.exported_at:%Y-%m-%d %H:%M}",
    }


def _header_rows(statement: Statement) -> list[tuple[str, Any]]:
    summary = statement.summary
    account = statement.account
    return [
        (_("户名"), statement.holder),
        (_("账户编号"), account.pk),
        (_("账户类型"), str(account.get_kind_display())),
        (_("所属组织"), account.org.name),
        (_("期间"), summary.period.label),
        (_("期初余额（分钟）"), summary.opening_minutes),
        (_("本期收入（分钟）"), summary.in_minutes),
        (_("本期支出（分钟）"), summary.out_minutes),
        (_("期末余额（分钟）"), summary.closing_minutes),
        (_("导出"), _watermark(statement)),
    ]


def write_statement_xlsx(statement: Statement, stream: BinaryIO) -> int:
    """The statement as an .xlsx into ``stream``: sheet 流水 (a header block, a blank row,
    then one row per entry), sheet 汇总 (months, then years). Returns the number of lines.
    Written in write-only mode: memory stays flat however many entries there are."""
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(SHEET_LINES)
    for index, width in enumerate(LINE_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.oddHeader.center.text = _("时间银行对账单")
    ws.oddFooter.center.text = _watermark(statement)
    ws.append([_("时间银行对账单")])
    for label, value in _header_rows(statement):
        ws.append([label, _text(ws, value) if isinstance(value, str) else value])
    ws.append([])
    ws.append(list(LINE_HEADERS))
    count = 0
    for line in statement.lines:
        when = WriteOnlyCell(ws, value=line.at.replace(tzinfo=None))
        when.number_format = DATE_FORMAT
        ws.append(
            [
                when,
                line.kind_label,
                _text(ws, line.memo),
                _text(ws, line.counterparty),
                line.in_minutes or None,
                line.out_minutes or None,
                line.balance_after,
            ]
        )
        count += 1
    _summary_sheet(workbook, statement.summary)
    workbook.save(stream)
    return count


def _summary_sheet(workbook: Workbook, summary: Summary) -> None:
    ws = workbook.create_sheet(SHEET_SUMMARY)
    for index in range(1, len(SUMMARY_HEADERS) + 1):
        ws.column_dimensions[get_column_letter(index)].width = 16
    ws.append(list(SUMMARY_HEADERS))
    for m in summary.months:
        ws.append([m.year, m.month, m.in_minutes, m.out_minutes, m.net_minutes, m.closing_minutes])
    ws.append([])
    for y in summary.years:
        ws.append(
            [y.year, _("全年"), y.in_minutes, y.out_minutes, y.net_minutes, y.closing_minutes]
        )


def statement_xlsx(statement: Statement) -> bytes:
    buffer = io.BytesIO()
    write_statement_xlsx(statement, buffer)
    return buffer.getvalue()


# --- PDF -----------------------------------------------------------------------------------

MARGIN = 18 * mm
LINE_WIDTHS_MM = (27, 19, 42, 32, 18, 18, 18)  # 174 mm: the page inside the margins
SUMMARY_WIDTHS_MM = (29, 29, 29, 29, 29, 29)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("stmt", fontName=cjk_font(), fontSize=10, leading=15, wordWrap="CJK")
    return {
        "title": ParagraphStyle(
            "stmt-title", parent=base, fontSize=18, leading=26, alignment=TA_CENTER
        ),
        "h2": ParagraphStyle(
            "stmt-h2", parent=base, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4
        ),
        "cell": ParagraphStyle("stmt-cell", parent=base, fontSize=9, leading=12),
        "number": ParagraphStyle(
            "stmt-number", parent=base, fontSize=9, leading=12, alignment=TA_RIGHT
        ),
    }


def _p(value: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape("" if value is None else str(value)), style)


def _table(rows: list[list[Any]], widths_mm: tuple[int, ...], header: bool = True) -> Table:
    table = Table(rows, colWidths=[w * mm for w in widths_mm], repeatRows=1 if header else 0)
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), HEAD_BACKGROUND))
    table.setStyle(TableStyle(commands))
    return table


def _info_table(statement: Statement, styles: dict[str, ParagraphStyle]) -> Table:
    summary = statement.summary
    pairs = [
        (_("户名"), statement.holder),
        (_("账户编号"), statement.account.pk),
        (_("所属组织"), statement.account.org.name),
        (_("期间"), summary.period.label),
        (_("期初余额"), with_hours(summary.opening_minutes)),
        (_("期末余额"), with_hours(summary.closing_minutes)),
        (_("本期收入"), with_hours(summary.in_minutes)),
        (_("本期支出"), with_hours(summary.out_minutes)),
    ]
    cell = styles["cell"]
    rows = [
        [_p(value, cell) for pair in pairs[i : i + 2] for value in pair]
        for i in range(0, len(pairs), 2)
    ]
    return _table(rows, (22, 65, 22, 65), header=False)


def _summary_table(summary: Summary, styles: dict[str, ParagraphStyle]) -> Table:
    cell, number = styles["cell"], styles["number"]
    rows: list[list[Any]] = [[_p(h, cell) for h in SUMMARY_HEADERS]]
    for m in summary.months:
        values = (m.in_minutes, m.out_minutes, m.net_minutes, m.closing_minutes)
        rows.append([_p(m.year, cell), _p(m.month, cell), *(_p(v, number) for v in values)])
    for y in summary.years:
        values = (y.in_minutes, y.out_minutes, y.net_minutes, y.closing_minutes)
        rows.append([_p(y.year, cell), _p(_("全年"), cell), *(_p(v, number) for v in values)])
    return _table(rows, SUMMARY_WIDTHS_MM)


def _lines_table(lines: Iterable[Line], styles: dict[str, ParagraphStyle]) -> Table:
    cell, number = styles["cell"], styles["number"]
    rows: list[list[Any]] = [[_p(h, cell) for h in LINE_HEADERS]]
    for line in lines:
        rows.append(
            [
                _p(f"{line.at:%Y-%m-%d %H:%M}", cell),
                _p(line.kind_label, cell),
                _p(line.memo, cell),
                _p(line.counterparty, cell),
                _p(line.in_minutes or "", number),
                _p(line.out_minutes or "", number),
                _p(line.balance_after, number),
            ]
        )
    if len(rows) == 1:
        rows.append([_p(_("本期无交易"), cell), *([""] * (len(LINE_HEADERS) - 1))])
    return _table(rows, LINE_WIDTHS_MM)


def _page_canvas(footer: str) -> type[PageCountingCanvas]:
    class StatementCanvas(PageCountingCanvas):
        def decorate(self, page: int, total: int) -> None:
            width, _height = A4
            self.saveState()
            self.setFont(FONT, 8)
            self.setFillColor(colors.grey)
            self.drawString(MARGIN, 10 * mm, footer)
            self.drawRightString(
                width - MARGIN,
                10 * mm,
                _("第 %(n)d 页 / 共 %(total)d 页") % {"n": page, "total": total},
            )
            self.restoreState()

    return StatementCanvas


def statement_pdf(statement: Statement) -> bytes:
    """The statement as an A4 PDF in Chinese: the account and period, the monthly and
    yearly summary, then every entry with the balance after it; page n of m in the
    footer with who exported it and when."""
    styles = _styles()
    story: list[Any] = [
        _p(_("时间银行对账单"), styles["title"]),
        Spacer(1, 3 * mm),
        _info_table(statement, styles),
        _p(_("一、月度与年度汇总（分钟）"), styles["h2"]),
        _summary_table(statement.summary, styles),
        _p(_("二、交易明细（分钟）"), styles["h2"]),
        _lines_table(statement.lines, styles),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=_("时间银行对账单"),
        subject=_("时间银行对账单"),
        creator="Huzhu",
    )
    document.build(story, canvasmaker=_page_canvas(_watermark(statement)))
    return buffer.getvalue()
