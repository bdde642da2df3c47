"""统计分析 pages and API: the page (filters, KPI cards, tables, chart data), the Excel export
(sheets, cells, watermark, audit) and ``GET /api/v1/desk/stats`` — who may see them, and
query counts that do not grow with the tickets."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from huzhu.common.models import AuditEntry
from huzhu.desk.models import Channel
from huzhu.desk.services import ticket_answer
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Role
from tests.activities.clients import MISSING, client_for, errors, token_client
from tests.desk.factories import access, report
from tests.desk.test_stats import Year, at, build_year, frozen
from tests.factories import UserFactory, grant, make_org
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db

PAGE = reverse("desk:stats")
EXPORT = reverse("desk:stats_export")
API = "/api/v1/desk/stats"
PERIOD = "date_from=2025-01-01&date_to=2025-12-31"


@pytest.fixture
def year(city) -> Year:
    return build_year(city)


@pytest.fixture
def worker_a(city) -> Client:
    return client_for(city.worker_a)


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def kpi(page: str, name: str) -> str:
    match = re.search(rf'data-testid="kpi-{name}">([^<]*)<', page)
    assert match, name
    return match.group(1)


def chart_data(page: str) -> dict:
    match = re.search(r'<script id="desk-stats" type="application/json">(.*?)</script>', page)
    assert match
    return json.loads(match.group(1))


def add_answered(city, grid, n: int) -> None:
    """``n`` more consultations answered on the spot in 2025, each in its own month."""
    for i in range(n):
        ticket = report(city.worker_a, grid, "consult-policy", f"咨询{i}", Channel.WALK_IN)
        ticket = ticket_answer(
            actor=city.worker_a, access=access(city.worker_a, ticket), answer="已答复"
        )
        frozen(ticket, at(2025, 7 + i, 2), at(2025, 7 + i, 2, 11))


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


# --- the page ----------------------------------------------------------------------------------


def test_the_page_shows_the_figures_of_the_period(year, worker_a):
    page = text(worker_a.get(f"{PAGE}?{PERIOD}"))
    assert "期间：2025-01-01 至 2025-12-31（按登记时间） · 范围：甲社区" in page
    assert kpi(page, "total") == "10"
    assert kpi(page, "open") == "4"
    assert "其中待回访 1" in page
    assert kpi(page, "closed") == "6"
    assert kpi(page, "overdue") == "2"
    assert "街道督办 1 · 区级督办 1" in page
    assert kpi(page, "median") == "20.0 小时"
    assert kpi(page, "on-time") == "66.7%"
    assert "2 / 3 件有期限的办结工单" in page
    assert kpi(page, "rating") == "4.0 星"
    assert kpi(page, "satisfied") == "66.7%"
    assert "退回重办 1 件" in page
    # Charts: ECharts from this site, data through json_script only.
    assert '<script src="/static/vendor/echarts/echarts.min.js" defer></script>' in page
    data = chart_data(page)
    assert data["channel"]["labels"][0] == "手机" and data["channel"]["values"][0] == 4
    assert data["month"]["labels"][:3] == ["2025-01", "2025-02", "2025-03"]
    assert data["month"]["values"] == [2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0]
    assert data["grid"]["labels"][0] == "甲社区 甲社区第一网格"
    assert data["status"]["values"] == [3, 1, 6]
    assert 'data-testid="table-category"' in page and "<td>乱贴小广告</td>" in page
    assert f'href="{EXPORT}?date_from=2025-01-01&amp;date_to=2025-12-31"' in page


def test_the_org_filter_narrows_and_the_export_link_keeps_it(year, worker_a):
    grid = year.city.grid_a
    page = text(worker_a.get(f"{PAGE}?{PERIOD}&org={grid.pk}"))
    assert kpi(page, "total") == "7"
    assert kpi(page, "median") == "26.0 小时"
    assert "范围：甲社区第一网格" in page
    query = f"date_from=2025-01-01&amp;date_to=2025-12-31&amp;org={grid.pk}"
    assert f'href="{EXPORT}?{query}"' in page


def test_a_bad_filter_is_shown_and_dropped(year, worker_a, city):
    page = text(worker_a.get(f"{PAGE}?date_from=2025-05-01&date_to=2025-04-01"))
    assert "结束日期不能早于开始日期。" in page
    # The wrong end is dropped; the start stays and the period runs to the end of its year.
    assert "期间：2025-05-01 至 2025-12-31" in page
    assert kpi(page, "total") == "2"  # t9, t10
    # An org of community B is not a choice for worker A: an error, and all of A is counted.
    page = text(worker_a.get(f"{PAGE}?{PERIOD}&org={city.grid_b.pk}"))
    assert "选择一个有效的选项" in page
    assert kpi(page, "total") == "10"
    assert "乙社区" not in page


def test_an_empty_period_says_so(year, worker_a):
    page = text(worker_a.get(f"{PAGE}?date_from=2023-01-01&date_to=2023-12-31"))
    assert 'data-testid="stats-empty"' in page
    assert kpi(page, "total") == "0" and kpi(page, "median") == "—"
    assert 'data-chart="month"' not in page


def test_worker_b_sees_none_of_a(year, city):
    page = text(client_for(city.worker_b).get(f"{PAGE}?{PERIOD}"))
    assert kpi(page, "total") == "1"
    assert "甲社区" not in page and '乱贴小广告</td><td class="text-end">3' not in page


def test_who_may_open_the_page(year, city):
    anonymous = Client().get(PAGE)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    resident = make_resident(city.grid_a, "王奶奶", username="wang")
    assert client_for(resident.user).get(PAGE).status_code == 403
    assert client_for(resident.user).get(EXPORT).status_code == 403
    supervisor = UserFactory(username="district-supervisor")
    grant(supervisor, city.district, Role.SUPERVISOR)
    page = text(client_for(supervisor).get(f"{PAGE}?{PERIOD}"))
    assert kpi(page, "total") == "11" and "范围：历下区" in page
    assert client_for(city.worker_a).post(PAGE).status_code == 405


def test_page_queries_do_not_grow(year, worker_a, city):
    url = f"{PAGE}?{PERIOD}"
    worker_a.get(url)
    before = queries(worker_a, url)
    add_answered(city, make_org(OrgKind.GRID, "甲社区第三网格", city.community_a), 4)
    assert kpi(text(worker_a.get(url)), "total") == "14"
    assert queries(worker_a, url) == before


# --- the export --------------------------------------------------------------------------------


def rows(sheet) -> list[tuple]:
    return list(sheet.iter_rows(values_only=True))


def test_the_export_has_a_sheet_per_breakdown(year, worker_a, city):
    response = worker_a.get(f"{EXPORT}?{PERIOD}")
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "20250101-20251231.xlsx" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["总体指标", "分类", "渠道", "网格", "月份"]
    for sheet in book.worksheets:
        mark = sheet["A1"].value
        assert mark.startswith("期间：2025-01-01 至 2025-12-31  范围：甲社区  导出人：worker-a")
        assert sheet.oddFooter.center.text == mark
    summary = {label: value for label, value in rows(book["总体指标"])[2:]}
    assert rows(book["总体指标"])[1] == ("指标", "数值")
    assert summary["工单总数"] == 10
    assert summary["未办结"] == 4
    assert summary["已办结"] == 6
    assert summary["当前逾期"] == 2
    assert summary["办结时长中位数（小时）"] == 20.0
    assert summary["按时办结率"] == 0.6667
    assert summary["街道督办"] == 1 and summary["区级督办"] == 1
    assert summary["已评价"] == 3 and summary["平均评分（1–5星）"] == 4.0
    assert summary["满意率"] == 0.6667 and summary["退回重办"] == 1
    share_cell = next(c for c in book["总体指标"]["A"] if c.value == "按时办结率")
    assert book["总体指标"].cell(row=share_cell.row, column=2).number_format == "0.0%"

    category = rows(book["分类"])
    assert category[1] == ("事项", "工单数")
    assert category[2] == ("乱贴小广告", 3)
    assert category[-1] == ("合计", 10)
    assert dict(category[2:-1])["垃圾乱堆、背街小巷脏乱"] == 2
    channel = rows(book["渠道"])
    assert channel[2] == ("手机", 4) and channel[-1] == ("合计", 10)
    grid = rows(book["网格"])
    assert grid[1] == ("社区", "网格", "工单数")
    assert grid[2:] == [
        ("甲社区", "甲社区第一网格", 7),
        ("甲社区", "甲社区第二网格", 2),
        ("甲社区", "未划分网格", 1),
        ("合计", None, 10),
    ]
    month = rows(book["月份"])
    assert month[2] == ("2025-01", 2) and month[13] == ("2025-12", 0) and month[14] == ("合计", 10)

    entry = AuditEntry.objects.get(verb="desk.stats.export")
    assert entry.actor == city.worker_a and entry.target_id == ""
    assert entry.data == {
        "date_from": "2025-01-01",
        "date_to": "2025-12-31",
        "org": "",
        "scope": "甲社区",
        "tickets": 10,
    }


def test_an_export_of_nothing_is_not_audited(year, city):
    response = client_for(city.worker_b).get(f"{EXPORT}?date_from=2023-01-01&date_to=2023-12-31")
    book = load_workbook(io.BytesIO(response.content))
    assert rows(book["总体指标"])[2] == ("工单总数", 0)
    assert rows(book["总体指标"])[7] == ("办结时长中位数（小时）", None)
    assert rows(book["分类"])[2:] == [("合计", 0)]
    assert not AuditEntry.objects.filter(verb="desk.stats.export").exists()


def test_export_queries_do_not_grow(year, worker_a, city):
    url = f"{EXPORT}?{PERIOD}&org={city.community_a.pk}"
    before = queries(worker_a, url)
    add_answered(city, city.grid_a, 3)
    assert queries(worker_a, url) == before


# --- the API -----------------------------------------------------------------------------------


def test_the_api_gives_the_same_figures(year, city):
    body = token_client(city.worker_a).get(f"{API}?{PERIOD}").json()
    assert body["date_from"] == "2025-01-01" and body["date_to"] == "2025-12-31"
    assert body["scope_label"] == "甲社区" and body["org_id"] is None
    figures = {k: body[k] for k in ("total", "open", "awaiting_follow_up", "closed", "overdue")}
    assert figures == {"total": 10, "open": 4, "awaiting_follow_up": 1, "closed": 6, "overdue": 2}
    assert body["handled_closed"] == 4 and body["median_close_hours"] == 20.0
    assert (body["with_deadline"], body["closed_on_time"], body["on_time_share"]) == (3, 2, 0.6667)
    assert (body["escalated_street"], body["escalated_district"]) == (1, 1)
    assert (body["rated"], body["average_rating"], body["satisfied"]) == (3, 4.0, 2)
    assert (body["satisfied_share"], body["reopened"]) == (0.6667, 1)
    assert body["by_channel"][0] == {"key": "mobile", "label": "手机", "count": 4, "group": ""}
    assert [r["count"] for r in body["by_month"]] == [2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0]
    assert body["by_grid"][0] == {
        "key": str(city.grid_a.pk),
        "label": "甲社区第一网格",
        "count": 7,
        "group": "甲社区",
    }
    assert [r["label"] for r in body["by_escalation"]] == ["街道督办", "区级督办"]
    narrowed = token_client(city.worker_a).get(f"{API}?{PERIOD}&org_id={year.grid_a2.pk}").json()
    assert (narrowed["total"], narrowed["median_close_hours"]) == (2, 36.0)
    assert narrowed["org_name"] == "甲社区第二网格"


def test_the_api_refuses_what_it_should(year, city):
    worker_b = token_client(city.worker_b)
    assert worker_b.get(f"{API}?{PERIOD}").json()["total"] == 1
    missing = worker_b.get(f"{API}?{PERIOD}&org_id={city.grid_a.pk}")
    assert missing.status_code == 404 and missing.json() == MISSING
    reversed_period = worker_b.get(f"{API}?date_from=2025-05-01&date_to=2025-04-01")
    assert errors(reversed_period) == [("date_to", "结束日期不能早于开始日期。")]
    assert errors(worker_b.get(f"{API}?date_from=2025-13-01"))[0][0] == "date_from"
    resident = make_resident(city.grid_a, "王奶奶", username="wang")
    denied = token_client(resident.user).get(API)
    assert denied.status_code == 403
    assert denied.json() == {"detail": "只有工作人员和督查人员可以查看统计。"}
    assert Client().get(API).status_code == 401


def test_api_queries_do_not_grow(year, city):
    client = token_client(city.worker_a)
    url = f"{API}?{PERIOD}"
    client.get(url)
    before = queries(client, url)
    add_answered(city, city.grid_a, 3)
    assert client.get(url).json()["total"] == 13
    assert queries(client, url) == before
