"""Excel export of the volunteer register, and the ORG argument of the volunteer commands.

``resolve_org`` reads the ``--org`` argument of ``huzhu export-volunteers`` and
``huzhu import-volunteers``: the org's id, its 12- or 6-digit division code, or its exact name.
``write_volunteers_xlsx`` streams a queryset into a write-only workbook in constant memory.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.core.management.base import CommandError
from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from huzhu.common.audit import log_action
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers.availability import describe
from huzhu.volunteers.models import Volunteer
from huzhu.volunteers.selectors import VolunteerFilters, all_revealable, volunteer_list


def resolve_org(text: str) -> Org:
    """The org named by ``text``: an id, a 12/6-digit division code, or an exact name.

    Raises ``CommandError`` with a Chinese message when nothing matches, or when a name
    matches several orgs (the message lists the candidates with their ids)."""
    value = (text or "").strip()
    if not value:
        raise CommandError("请用 --org 指定组织（组织编号、区划代码或完整名称）")
    if value.isdigit():
        if len(value) in (6, 12):
            org = Org.objects.filter(division_code=value).first()
            if org is not None:
                return org
        org = Org.objects.filter(pk=int(value)).first() if len(value) <= 18 else None
        if org is not None:
            return org
        raise CommandError(f"找不到组织：{value}（组织编号或区划代码不存在）")
    matches = list(Org.objects.filter(name=value).select_related("parent").order_by("path")[:21])
    if not matches:
        raise CommandError(f"找不到组织：{value}（请使用组织编号、区划代码或完整名称）")
    if len(matches) > 1:
        shown = matches[:20]
        candidates = "；".join(
            f"{org.pk} {org.parent.name + ' / ' if org.parent else ''}{org.name}" for org in shown
        )
        more = " 等" if len(matches) > len(shown) else ""
        raise CommandError(
            f"组织名称“{value}”不唯一，请改用组织编号或区划代码。候选：{candidates}{more}"
        )
    return matches[0]


# --- the workbook -------------------------------------------------------------------------

# Column headers are part of the file format (the importer reads the same names), so they
# are plain Chinese, not translated.
HEADERS = (
    "志愿者编号",
    "姓名",
    "性别",
    "年龄",
    "身份证号",
    "手机号",
    "所属社区",
    "状态",
    "政治面貌",
    "技能",
    "服务类别",
    "服务对象",
    "可服务时间",
    "星级",
    "累计服务时长(小时)",
    "历史服务时长(小时)",
    "登记时间",
)
SHEET_TITLE = "志愿者名册"
COLUMN_WIDTHS = (15, 10, 6, 6, 21, 14, 18, 8, 12, 24, 24, 18, 28, 6, 12, 12, 18)


def watermark(exported_by: str, when: dt.datetime, *, reveal: bool) -> str:
    masked = "含完整证件号码，严禁外传" if reveal else "证件号码已脱敏"
    return f"导出人：{exported_by} 时间：{when:%Y-%m-%d %H:%M}（{masked}）"


def _text(ws: Any, value: str) -> Any:
    """A text cell that is never read as a formula (a name typed as "=HYPERLINK(…)")."""
    if value[:1] in ("=", "+", "-", "@"):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def write_volunteers_xlsx(
    rows_queryset: QuerySet[Volunteer],
    *,
    reveal: bool,
    exported_by: str,
    stream: BinaryIO,
    today: dt.date | None = None,
) -> int:
    """Write the volunteers of ``rows_queryset`` as an .xlsx into ``stream``; returns the
    number of rows. Row 1 is the watermark (导出人 and time; also the printed footer), row 2
    the header. Rows are read in chunks with their skills, categories and people served
    prefetched, into a write-only workbook: memory stays flat however many rows there are.
    ID and phone numbers are masked unless ``reveal``."""
    today = today or timezone.localdate()
    now = timezone.localtime()
    mark = watermark(exported_by, now, reveal=reveal)
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(SHEET_TITLE)
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.oddFooter.center.text = mark
    ws.oddHeader.center.text = SHEET_TITLE
    ws.append([mark])
    ws.append(list(HEADERS))
    queryset = rows_queryset.select_related("person", "org").prefetch_related(
        "skills", "categories", "served_groups"
    )
    count = 0
    for volunteer in queryset.iterator(chunk_size=2000):
        person = volunteer.person
        if reveal:
            id_number, phone = person.id_number, person.phone
        else:
            id_number, phone = person.id_number_masked, person.phone_masked
        ws.append(
            [
                volunteer.number,
                _text(ws, person.name),
                person.get_gender_display(),
                person.age_on(today),
                id_number,
                phone,
                _text(ws, volunteer.org.name),
                volunteer.get_status_display(),
                volunteer.get_political_status_display(),
                _text(ws, "、".join(s.name for s in volunteer.skills.all())),
                "、".join(c.name for c in volunteer.categories.all()),
                "、".join(g.name for g in volunteer.served_groups.all()),
                describe(volunteer.availability),
                volunteer.star_level,
                round(volunteer.recorded_minutes / 60, 1),
                round(volunteer.historical_minutes / 60, 1),
                timezone.localtime(volunteer.registered_at).strftime("%Y-%m-%d %H:%M"),
            ]
        )
        count += 1
    workbook.save(stream)
    return count


@dataclass
class ExportResult:
    rows: int
    masked: bool


def volunteer_export(
    *,
    actor: Any,
    scope: Scope,
    filters: VolunteerFilters,
    description: str,
    stream: BinaryIO,
    target: Org | None = None,
    allow_reveal: bool = True,
) -> ExportResult:
    """Export the volunteers the scope sees under ``filters`` and audit it
    (``volunteer.export``: the filter in words, the row count, masked or not). Full ID and
    phone numbers only when the user may reveal them for every row's org. An export that
    finds no rows carries no personal data and leaves no audit entry. ``allow_reveal=False``
    masks in any case."""
    rows = volunteer_list(scope=scope, filters=filters)
    reveal = allow_reveal and all_revealable(scope=scope, volunteers=rows)
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    exported_by = actor.get_username() if is_user else "系统"
    count = write_volunteers_xlsx(rows, reveal=reveal, exported_by=exported_by, stream=stream)
    if count:
        if target is None:
            target = filters.org or _single_root(scope)
        log_action(
            actor,
            "volunteer.export",
            target,
            {"filter": description, "rows": count, "masked": not reveal},
        )
    return ExportResult(rows=count, masked=not reveal)


def _single_root(scope: Scope) -> Org | None:
    """The org a one-community worker's export is filed under in the audit log."""
    roots = scope.roots(Perm.VOLUNTEER_VIEW)
    if len(roots) != 1 or roots[0] == "/":
        return None
    return Org.objects.filter(path=roots[0]).first()
