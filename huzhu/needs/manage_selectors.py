"""Reads the worker's matching desk needs beyond ``needs.selectors``: the orgs offered in its
selects, the counts per status of the need board, the residents a worker may post a need
for, a need's volunteer applications, the candidates' register entries, and the Excel
export of the board (watermarked; the view audits it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any, BinaryIO

from django.db.models import Count, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from huzhu.needs.models import Invitation, InvitationKind, Need, NeedCategory
from huzhu.needs.selectors import NeedFilters, need_list
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.people.selectors import person_list
from huzhu.volunteers.models import Volunteer

CANDIDATES_SHOWN = 10
NEED_ORG_KINDS = (OrgKind.COMMUNITY, OrgKind.GRID)
OFFER_ORG_KINDS = (OrgKind.UNIT, OrgKind.COMMUNITY)


# --- orgs ------------------------------------------------------------------------------------


def need_orgs(*, scope: Scope, perm: str = Perm.VIEW) -> QuerySet[Org]:
    """Communities and grids in the scope (``perm`` over them), in tree order."""
    return (
        Org.objects.within(scope, perm)  # type: ignore[attr-defined]
        .filter(kind__in=NEED_ORG_KINDS, is_active=True)
        .order_by("path")
    )


def offer_orgs(*, scope: Scope) -> QuerySet[Org]:
    """Units in the area (驻区单位) and communities whose services a worker may record."""
    return (
        Org.objects.within(scope, Perm.NEED_MANAGE)  # type: ignore[attr-defined]
        .filter(kind__in=OFFER_ORG_KINDS, is_active=True)
        .order_by("kind", "path")
    )


def category_choices() -> QuerySet[NeedCategory]:
    return NeedCategory.objects.filter(is_active=True).order_by("sort_order", "id")


# --- the board -------------------------------------------------------------------------------


def status_counts(*, scope: Scope, filters: NeedFilters) -> dict[str, int]:
    """How many needs of each status the other filters find (the tabs of the board)."""
    others = replace(filters, status="", unmatched_only=False)
    rows = (
        need_list(scope=scope, filters=others)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    return dict(rows)  # type: ignore[arg-type]


# --- posting for a resident ------------------------------------------------------------------


def _residents(scope: Scope) -> QuerySet[Person]:
    return (
        Person.objects.within(scope, Perm.NEED_MANAGE)  # type: ignore[attr-defined]
        .filter(scope.q("org__path", Perm.PERSON_VIEW))
        .select_related("org")
        .defer("id_number_encrypted", "phone_encrypted")
    )


def requester_candidates(*, scope: Scope, text: str) -> list[Person]:
    """Residents a worker may post a need for, matching a name, pinyin (initials) or the last
    digits of the ID number."""
    text = (text or "").strip()[:30]
    if not text:
        return []
    qs = person_list(scope=scope, search=text).filter(scope.q("org__path", Perm.NEED_MANAGE))
    return list(qs[:CANDIDATES_SHOWN])


def requester_get(*, scope: Scope, person_id: int) -> Person:
    """A resident the worker may post a need for; 404 outside the scope."""
    return get_object_or_404(_residents(scope), pk=person_id)


# --- the matching screen ---------------------------------------------------------------------


def application_get(*, need: Need, invitation_id: int) -> Invitation:
    """A volunteer's application (自荐) to this need; 404 for anything else."""
    invitation = (
        Invitation.objects.filter(pk=invitation_id, need=need, kind=InvitationKind.APPLY)
        .select_related("volunteer__person", "need")
        .first()
    )
    if invitation is None:
        raise Http404(_("该自荐不存在。"))
    return invitation


def volunteers_by_id(ids: list[int]) -> dict[int, Volunteer]:
    """The register entries of ranked candidates, in one query."""
    rows = Volunteer.objects.filter(pk__in=ids).select_related("person", "org")
    return {volunteer.pk: volunteer for volunteer in rows}


# --- the export ------------------------------------------------------------------------------

# Column headers are part of the file format, so they are plain Chinese, not translated.
HEADERS = (
    "需求编号",
    "标题",
    "求助人",
    "所属社区/网格",
    "需求类别",
    "开始时间",
    "结束时间",
    "紧急程度",
    "支付方式",
    "预计时长(分钟)",
    "状态",
    "服务志愿者",
    "发布方式",
    "发布时间",
)
SHEET_TITLE = "需求列表"
COLUMN_WIDTHS = (18, 30, 10, 18, 12, 17, 17, 8, 16, 10, 10, 10, 12, 17)


def watermark(exported_by: str, when: dt.datetime) -> str:
    return f"导出人：{exported_by} 时间：{when:%Y-%m-%d %H:%M}（含居民姓名，严禁外传）"


def _text(ws: Any, value: str) -> Any:
    """A text cell never read as a formula (a title typed as "=HYPERLINK(…)")."""
    if value[:1] in ("=", "+", "-", "@"):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def _local(moment: dt.datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _row(ws: Any, need: Need) -> list[Any]:
    volunteer = need.volunteer
    return [
        need.number,
        _text(ws, need.title),
        _text(ws, need.requester.name) if need.requester else "",
        _text(ws, need.org.name),
        need.category.name,
        _local(need.starts_at),
        _local(need.ends_at),
        need.get_urgency_display(),
        need.get_payment_display(),
        need.minutes,
        need.get_status_display(),
        _text(ws, volunteer.person.name) if volunteer else "",
        need.get_channel_display(),
        _local(need.created_at),
    ]


def write_needs_xlsx(rows: QuerySet[Need], *, exported_by: str, stream: BinaryIO) -> int:
    """Write the needs of ``rows`` as an .xlsx into ``stream``; returns the number of rows.
    Row 1 is the watermark (导出人 and time; also the printed footer), row 2 the header; a
    write-only workbook read in chunks keeps memory flat."""
    mark = watermark(exported_by, timezone.localtime())
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(SHEET_TITLE)
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.oddFooter.center.text = mark
    ws.oddHeader.center.text = SHEET_TITLE
    ws.append([mark])
    ws.append(list(HEADERS))
    count = 0
    for need in rows.iterator(chunk_size=2000):
        ws.append(_row(ws, need))
        count += 1
    workbook.save(stream)
    return count


def export_target(*, scope: Scope, org_id: int | None) -> Org | None:
    """The org an export is filed under in the audit log: the filtered org, or the user's
    one root when they have a single one."""
    if org_id:
        return Org.objects.filter(pk=org_id).first()
    roots = scope.roots(Perm.VIEW)
    if len(roots) != 1 or roots[0] == "/":
        return None
    return Org.objects.filter(path=roots[0]).first()
