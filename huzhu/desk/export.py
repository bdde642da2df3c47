"""The desk's figures as an Excel workbook (统计分析导出).

Sheets: 总体指标, then one per breakdown (分类, 渠道, 网格, 月份). Row 1 of every sheet names
the period, the scope and the exporting user (the watermark, also the printed footer); row 2
is the header; breakdowns end with a 合计 row. The figures are aggregates — no resident's
name or phone — but the export is still watermarked and audited (``views_stats``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, BinaryIO

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from huzhu.common.audit import log_action
from huzhu.desk.stats import DeskStats, Row

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Sheet titles and column headers are part of the file format, so they are plain Chinese,
# not translated (like the other exports).
SUMMARY = "总体指标"
TOTAL = "合计"
PERCENT = "0.0%"
FORMULA_STARTS = ("=", "+", "-", "@")


def watermark(stats: DeskStats, exported_by: str, when: dt.datetime) -> str:
    return (
        f"期间：{stats.date_from:%Y-%m-%d} 至 {stats.date_to:%Y-%m-%d}  "
        f"范围：{stats.scope_label}  导出人：{exported_by}  时间：{when:%Y-%m-%d %H:%M}"
    )


def _put(ws: Worksheet, row: int, column: int, value: Any, number_format: str = "") -> None:
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell.data_type = "s"  # a name typed as "=HYPERLINK(…)" stays text
    if number_format:
        cell.number_format = number_format


def _sheet(
    workbook: Workbook, title: str, mark: str, headers: tuple[str, ...], widths: tuple[int, ...]
) -> Worksheet:
    ws = workbook.create_sheet(title)
    ws.oddHeader.center.text = title
    ws.oddFooter.center.text = mark
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    _put(ws, 1, 1, mark)
    for column, header in enumerate(headers, start=1):
        _put(ws, 2, column, header)
    ws.freeze_panes = "A3"
    return ws


def _rows(ws: Worksheet, rows: Iterable[list[Any]]) -> None:
    for row_index, values in enumerate(rows, start=3):
        for column, value in enumerate(values, start=1):
            _put(ws, row_index, column, value)


def _summary_rows(stats: DeskStats) -> list[tuple[str, Any, str]]:
    """(label, value, number format) of the 总体指标 sheet; a missing figure is empty."""
    blank = ""
    return [
        ("工单总数", stats.total, blank),
        ("未办结", stats.open, blank),
        ("其中：已反馈待回访", stats.awaiting_follow_up, blank),
        ("已办结", stats.closed, blank),
        ("当前逾期", stats.overdue, blank),
        ("办结时长中位数（小时）", stats.median_close_hours, "0.00"),
        ("计入办结时长的工单（不含并案、撤回）", stats.handled_closed, blank),
        ("有办理期限的办结工单", stats.with_deadline, blank),
        ("其中：按时办结", stats.closed_on_time, blank),
        ("按时办结率", stats.on_time_share, PERCENT),
        ("街道督办", stats.escalated_street, blank),
        ("区级督办", stats.escalated_district, blank),
        ("已评价", stats.rated, blank),
        ("平均评分（1–5星）", stats.average_rating, "0.00"),
        ("满意（4–5星）", stats.satisfied, blank),
        ("满意率", stats.satisfied_share, PERCENT),
        ("退回重办", stats.reopened, blank),
    ]


def _write_summary(workbook: Workbook, stats: DeskStats, mark: str) -> None:
    ws = _sheet(workbook, SUMMARY, mark, ("指标", "数值"), (36, 14))
    rows = _summary_rows(stats)
    _rows(ws, ([label, value] for label, value, _fmt in rows))
    for row_index, (_label, _value, number_format) in enumerate(rows, start=3):
        if number_format:
            ws.cell(row=row_index, column=2).number_format = number_format


def _write_breakdown(
    workbook: Workbook, title: str, mark: str, header: str, rows: list[Row]
) -> None:
    ws = _sheet(workbook, title, mark, (header, "工单数"), (28, 10))
    lines = [[row.label, row.count] for row in rows]
    _rows(ws, [*lines, [TOTAL, sum(row.count for row in rows)]])


def _write_grids(workbook: Workbook, mark: str, rows: list[Row]) -> None:
    ws = _sheet(workbook, "网格", mark, ("社区", "网格", "工单数"), (20, 24, 10))
    lines = [[row.group, row.label, row.count] for row in rows]
    _rows(ws, [*lines, [TOTAL, "", sum(row.count for row in rows)]])


def write_stats_xlsx(
    stats: DeskStats, *, exported_by: str, stream: BinaryIO, now: dt.datetime | None = None
) -> None:
    """Write the workbook of ``stats`` into ``stream``."""
    mark = watermark(stats, exported_by, timezone.localtime(now))
    workbook = Workbook()
    workbook.remove(workbook.active)
    _write_summary(workbook, stats, mark)
    _write_breakdown(workbook, "分类", mark, "事项", stats.by_category)
    _write_breakdown(workbook, "渠道", mark, "渠道", stats.by_channel)
    _write_grids(workbook, mark, stats.by_grid)
    _write_breakdown(workbook, "月份", mark, "月份", stats.by_month)
    workbook.save(stream)


def desk_stats_export(*, actor: Any, stats: DeskStats, stream: BinaryIO) -> None:
    """Write the figures as .xlsx and audit the export when it holds any ticket (an empty
    workbook tells nothing about anyone)."""
    write_stats_xlsx(stats, exported_by=actor.get_username(), stream=stream)
    if stats.total:
        log_action(
            actor,
            "desk.stats.export",
            None,
            {
                "date_from": f"{stats.date_from:%Y-%m-%d}",
                "date_to": f"{stats.date_to:%Y-%m-%d}",
                "org": stats.org_name,
                "scope": stats.scope_label,
                "tickets": stats.total,
            },
        )
