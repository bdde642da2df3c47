"""The desk's figures over the API: ``GET /api/v1/desk/stats`` — the same figures as the
statistics page (``huzhu.desk.stats``), for the same filters.

* only callers with VIEW over some org (workers, supervisors …) — anyone else gets 403;
* the figures cover the tickets of the caller's subtree; ``org_id`` narrows them to one
  street, community or grid of it — an org outside it answers 404 like a missing one;
* a reversed, too long or out-of-range period is a 422 naming ``date_from`` / ``date_to``.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from huzhu.api.types import ErrorOut, ObjectId, ValidationErrorOut
from huzhu.desk import stats
from huzhu.orgs.roles import Perm

router = Router(tags=["desk"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}


class StatsQuery(Schema):
    date_from: dt.date | None = Field(None, description="登记日期不早于（默认：今年 1 月 1 日）")
    date_to: dt.date | None = Field(None, description="登记日期不晚于（默认：今年 12 月 31 日）")
    org_id: ObjectId | None = Field(None, description="街道、社区或网格（含下级）")


class RowOut(Schema):
    key: str = Field(description="事项 id、渠道代码、网格 id（无网格：org-社区 id）、月份 YYYY-MM")
    label: str
    count: int
    group: str = Field("", description="网格所属社区")


class StatsOut(Schema):
    date_from: dt.date
    date_to: dt.date
    org_id: int | None
    org_name: str
    scope_label: str = Field(description="统计范围")
    total: int
    open: int = Field(description="未办结（含待回访）")
    awaiting_follow_up: int = Field(description="已反馈待回访")
    closed: int
    overdue: int = Field(description="当前逾期（未办结且已过办理期限）")
    handled_closed: int = Field(description="计入办结时长的办结工单（不含并案、撤回）")
    median_close_hours: float | None = Field(description="办结时长中位数（小时）")
    with_deadline: int = Field(description="有办理期限的办结工单（不含并案、撤回）")
    closed_on_time: int
    on_time_share: float | None = Field(description="按时办结率（0–1）")
    escalated_street: int
    escalated_district: int
    rated: int
    average_rating: float | None
    satisfied: int = Field(description="评分 4–5 星")
    satisfied_share: float | None = Field(description="满意率（0–1）")
    reopened: int = Field(description="退回重办过的工单")
    by_category: list[RowOut]
    by_channel: list[RowOut]
    by_grid: list[RowOut]
    by_month: list[RowOut]
    by_escalation: list[RowOut]


@router.get("/stats", response={200: StatsOut, **ERRORS}, summary="服务台统计分析")
def desk_stats(request: HttpRequest, filters: Query[StatsQuery]) -> Any:
    scope = request.scope  # type: ignore[attr-defined]
    if not scope.can(Perm.VIEW):
        raise PermissionDenied(_("只有工作人员和督查人员可以查看统计。"))
    chosen = stats.stats_filters(
        date_from=filters.date_from, date_to=filters.date_to, org_id=filters.org_id
    )
    return stats.desk_stats(scope=scope, filters=chosen).as_dict()
