"""Statements: running balance, monthly and yearly summaries on a scripted sequence, the
Excel and PDF files read back, and the download routes (own statement, a worker's view of an
account in scope, 404 for anyone else, every export audited)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from huzhu.common.models import AuditEntry
from huzhu.timebank import ledger, statements
from huzhu.timebank.ledger import Leg
from huzhu.timebank.models import Account, AccountKind, Entry, Transfer
from huzhu.timebank.services import account_for_person, org_account
from tests.activities.clients import client_for
from tests.activities.factories import make_volunteer
from tests.activities.test_certificate_pdf import page_count, page_texts

pytestmark = pytest.mark.django_db
User = get_user_model()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def local(*args: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime(*args))


class Script:
    """王一's account through a fixed sequence, each transfer dated after posting:

    ===================  ========  ======  ================  =======
    when (local)         kind        amount  counterparty      balance
    ===================  ========  ======  ================  =======
    2023-12-20 09:00     earn        +120    issuance          120
    2024-01-05 10:00     earn         +90    issuance          210
    2024-01-20 15:00     spend        -30    李二              180
    2024-03-10 09:00     donate       -60    pool              120
    2024-04-01 00:30     earn         +45    issuance          165
    2025-02-01 12:00     family       -20    李二              145
    ===================  ========  ======  ================  =======
    """

    def __init__(self, city) -> None:
        volunteer = make_volunteer(city.grid_a, "王一", username="wang")
        self.person = volunteer.person
        self.helper = make_volunteer(city.grid_a, "李二", username="li").person
        self.account = account_for_person(self.person)
        self.helper_account = account_for_person(self.helper)
        issuance = org_account(city.community_a, AccountKind.ISSUANCE).pk
        pool = org_account(city.community_a, AccountKind.POOL).pk
        me, helper = self.account.pk, self.helper_account.pk
        steps = [
            (local(2023, 12, 20, 9), "earn", "服务入账", [Leg(issuance, -120), Leg(me, 120)]),
            (local(2024, 1, 5, 10), "earn", "服务入账", [Leg(issuance, -90), Leg(me, 90)]),
            (local(2024, 1, 20, 15), "spend", "陪诊", [Leg(me, -30), Leg(helper, 30)]),
            (local(2024, 3, 10, 9), "donate", "=1+1", [Leg(me, -60), Leg(pool, 60)]),
            (local(2024, 4, 1, 0, 30), "earn", "服务入账", [Leg(issuance, -45), Leg(me, 45)]),
            (local(2025, 2, 1, 12), "family", "给李二", [Leg(me, -20), Leg(helper, 20)]),
        ]
        for n, (when, kind, memo, legs) in enumerate(steps):
            made = ledger.post(kind=kind, legs=legs, memo=memo, idempotency_key=f"script-{n}")
            Transfer.objects.filter(pk=made.pk).update(created_at=when)
            Entry.objects.filter(transfer=made).update(created_at=when)
        self.account.refresh_from_db()


@pytest.fixture
def script(city) -> Script:
    return Script(city)


YEAR_2024_MONTHS = [
    (2024, 1, 90, 30, 180),
    (2024, 2, 0, 0, 180),
    (2024, 3, 0, 60, 120),
    (2024, 4, 45, 0, 165),
    *[(2024, month, 0, 0, 165) for month in range(5, 13)],
]
LINES_2024 = [
    (local(2024, 1, 5, 10), "earn", "服务入账", "服务入账", "甲社区（发行账户）", 90, 210),
    (local(2024, 1, 20, 15), "spend", "支付服务", "陪诊", "李*", -30, 180),
    (local(2024, 3, 10, 9), "donate", "捐赠", "=1+1", "甲社区（社区互助池）", -60, 120),
    (local(2024, 4, 1, 0, 30), "earn", "服务入账", "服务入账", "甲社区（发行账户）", 45, 165),
]


def _months(summary: statements.Summary) -> list[tuple]:
    return [
        (m.year, m.month, m.in_minutes, m.out_minutes, m.closing_minutes) for m in summary.months
    ]


# --- the numbers ----------------------------------------------------------------------------


def test_a_year_summary_is_exact(script):
    period = statements.period_of(script.account, year=2024)
    assert (period.start, period.end) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    summary = statements.summarize(script.account, period)
    assert summary.opening_minutes == 120
    assert _months(summary) == YEAR_2024_MONTHS
    assert [(y.year, y.in_minutes, y.out_minutes, y.net_minutes) for y in summary.years] == [
        (2024, 135, 90, 45)
    ]
    assert summary.years[0].closing_minutes == summary.closing_minutes == 165
    assert [m.net_minutes for m in summary.months[:4]] == [60, 0, -60, 45]


def test_months_are_cut_at_local_midnight(script):
    march = statements.summarize(
        script.account, statements.period_of(script.account, year=2024, month=3)
    )
    april = statements.summarize(
        script.account, statements.period_of(script.account, year=2024, month=4)
    )
    assert (march.opening_minutes, _months(march)) == (180, [(2024, 3, 0, 60, 120)])
    assert (april.opening_minutes, _months(april)) == (120, [(2024, 4, 45, 0, 165)])


def test_the_whole_history_closes_at_the_stored_balance(script):
    period = statements.period_of(script.account)
    today = timezone.localdate()
    assert (period.start, period.end) == (dt.date(2023, 12, 20), today)
    summary = statements.summarize(script.account, period)
    assert summary.opening_minutes == 0
    assert summary.closing_minutes == script.account.balance == 145
    assert (summary.in_minutes, summary.out_minutes) == (255, 110)
    years = [(y.year, y.in_minutes, y.out_minutes, y.closing_minutes) for y in summary.years]
    assert years[:3] == [(2023, 120, 0, 120), (2024, 135, 90, 165), (2025, 0, 20, 145)]
    assert [y[0] for y in years] == list(range(2023, today.year + 1))
    assert all(y[1:] == (0, 0, 145) for y in years[3:])
    months = _months(summary)
    assert months[0] == (2023, 12, 120, 0, 120)
    assert months[-1][:2] == (today.year, today.month)
    assert len(months) == (today.year - 2023) * 12 + today.month - 12 + 1


def test_lines_carry_the_running_balance_and_match_the_summary(script):
    period = statements.period_of(script.account, year=2024)
    lines = list(statements.statement_lines(script.account, period))
    assert [
        (ln.at, ln.kind, ln.kind_label, ln.memo, ln.counterparty, ln.amount, ln.balance_after)
        for ln in lines
    ] == LINES_2024
    summary = statements.summarize(script.account, period)
    assert sum(ln.in_minutes for ln in lines) == summary.in_minutes
    assert sum(ln.out_minutes for ln in lines) == summary.out_minutes
    for month in summary.months:
        inside = [ln for ln in lines if (ln.at.year, ln.at.month) == (month.year, month.month)]
        if inside:
            assert inside[-1].balance_after == month.closing_minutes


def test_an_account_with_no_entries_has_an_empty_statement(city):
    account = account_for_person(make_volunteer(city.grid_a, "王一").person)
    summary = statements.summarize(account, statements.period_of(account, year=2024))
    assert (summary.opening_minutes, summary.closing_minutes) == (0, 0)
    assert _months(summary) == [(2024, m, 0, 0, 0) for m in range(1, 13)]
    future = statements.summarize(account, statements.period_of(account, year=2999))
    assert (future.months, future.years) == ((), ())


# --- the files ------------------------------------------------------------------------------


def _rows(sheet) -> list[tuple]:
    rows = []
    for row in sheet.iter_rows(values_only=True):
        values = list(row)
        while values and values[-1] is None:
            values.pop()
        rows.append(tuple(values))
    return rows


def _statement(script: Script, *, full_name: bool = True, **period) -> statements.Statement:
    return statements.statement_for(
        script.account,
        statements.period_of(script.account, **period),
        full_name=full_name,
        exported_by="wang",
    )


def test_the_workbook_holds_the_header_the_lines_and_the_summary(script):
    statement = _statement(script, year=2024)
    book = load_workbook(io.BytesIO(statements.statement_xlsx(statement)))
    assert book.sheetnames == ["流水", "汇总"]
    rows = _rows(book["流水"])
    exported = f"导出人：wang 时间：{statement.exported_at:%Y-%m-%d %H:%M}"
    assert rows[:13] == [
        ("时间银行对账单",),
        ("户名", "王一"),
        ("账户编号", script.account.pk),
        ("账户类型", "个人账户"),
        ("所属组织", "甲社区"),
        ("期间", "2024-01-01 至 2024-12-31"),
        ("期初余额（分钟）", 120),
        ("本期收入（分钟）", 135),
        ("本期支出（分钟）", 90),
        ("期末余额（分钟）", 165),
        ("导出", exported),
        (),
        ("日期", "类型", "摘要", "对方", "收入（分钟）", "支出（分钟）", "余额（分钟）"),
    ]
    assert rows[13:] == [
        (dt.datetime(2024, 1, 5, 10), "服务入账", "服务入账", "甲社区（发行账户）", 90, None, 210),
        (dt.datetime(2024, 1, 20, 15), "支付服务", "陪诊", "李*", None, 30, 180),
        (dt.datetime(2024, 3, 10, 9), "捐赠", "=1+1", "甲社区（社区互助池）", None, 60, 120),
        (
            dt.datetime(2024, 4, 1, 0, 30),
            "服务入账",
            "服务入账",
            "甲社区（发行账户）",
            45,
            None,
            165,
        ),
    ]
    memo = book["流水"]["C16"]
    assert (memo.value, memo.data_type) == ("=1+1", "s")  # text, never a formula
    assert book["流水"]["A14"].number_format == "yyyy-mm-dd hh:mm"
    summary = _rows(book["汇总"])
    assert summary[0] == (
        "年份",
        "月份",
        "收入（分钟）",
        "支出（分钟）",
        "净额（分钟）",
        "期末余额（分钟）",
    )
    assert summary[1:13] == [(y, m, i, o, i - o, c) for y, m, i, o, c in YEAR_2024_MONTHS]
    assert summary[13:] == [(), (2024, "全年", 135, 90, 45, 165)]


def test_the_workbook_masks_the_name_when_asked(script):
    statement = _statement(script, full_name=False, year=2024, month=4)
    rows = _rows(load_workbook(io.BytesIO(statements.statement_xlsx(statement)))["流水"])
    assert rows[1] == ("户名", "王*")
    assert rows[5] == ("期间", "2024-04-01 至 2024-04-30")
    assert len(rows) == 14


def test_the_pdf_shows_the_account_the_summary_and_every_entry(script):
    pdf = statements.statement_pdf(_statement(script, year=2024))
    assert pdf.startswith(b"%PDF")
    assert page_count(pdf) == 1
    (text,) = page_texts(pdf)
    for expected in (
        "时间银行对账单",
        "户名王一",
        f"账户编号{script.account.pk}",
        "期间2024-01-01至2024-12-31",
        "期初余额120分钟（2小时）",
        "期末余额165分钟（2.75小时）",
        "本期收入135分钟（2.25小时）",
        "本期支出90分钟（1.5小时）",
        "2024全年1359045165",
        "2024-01-0510:00服务入账服务入账甲社区（发行账户）90210",
        "2024-01-2015:00支付服务陪诊李*30180",
        "2024-03-1009:00捐赠=1+1甲社区（社区互助池）60120",
        "2024-04-0100:30服务入账服务入账甲社区（发行账户）45165",
        "第1页/共1页",
    ):
        assert expected in text, expected
    assert "2025-02-01" not in text


def test_a_long_statement_runs_over_pages(city):
    account = account_for_person(make_volunteer(city.grid_a, "王一").person)
    issuance = org_account(city.community_a, AccountKind.ISSUANCE).pk
    for n in range(80):
        ledger.post(kind="earn", legs=[Leg(issuance, -1), Leg(account.pk, 1)], memo=f"第{n}笔")
    statement = statements.statement_for(
        account, statements.period_of(account), full_name=True, exported_by="x"
    )
    pdf = statements.statement_pdf(statement)
    texts = page_texts(pdf)
    assert len(texts) == page_count(pdf) >= 2
    assert all("日期类型摘要对方收入（分钟）支出（分钟）余额（分钟）" in t for t in texts[1:])
    assert f"第{len(texts)}页/共{len(texts)}页" in texts[-1]
    assert "第79笔" in texts[-1]


# --- the downloads --------------------------------------------------------------------------


def _exports() -> list[tuple]:
    return list(
        AuditEntry.objects.filter(verb="timebank.statement_export")
        .order_by("id")
        .values_list("actor__username", "target_id", "data")
    )


def test_a_member_downloads_their_own_statement(script):
    client = client_for(User.objects.get(username="wang"))
    response = client.get(reverse("timebank:statement_xlsx") + "?year=2024")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"].startswith("attachment;")
    book = load_workbook(io.BytesIO(response.content))
    assert _rows(book["流水"])[1] == ("户名", "王一")
    assert len(_rows(book["流水"])) == 13 + 4
    pdf = client.get(reverse("timebank:statement_pdf") + "?year=2024&month=1")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert pdf.content.startswith(b"%PDF")
    assert "户名王一" in page_texts(pdf.content)[0]
    own = client.get(reverse("timebank:account_statement_pdf", args=[script.account.pk]))
    assert own.status_code == 200
    account_id = str(script.account.pk)
    assert _exports() == [
        ("wang", account_id, {"format": "xlsx", "from": "2024-01-01", "to": "2024-12-31"}),
        ("wang", account_id, {"format": "pdf", "from": "2024-01-01", "to": "2024-01-31"}),
        (
            "wang",
            account_id,
            {"format": "pdf", "from": "2023-12-20", "to": timezone.localdate().isoformat()},
        ),
    ]


def test_a_worker_downloads_an_account_in_scope_with_the_name_masked(script, city):
    client = client_for(city.worker_a)
    url = reverse("timebank:account_statement_xlsx", args=[script.account.pk])
    response = client.get(url + "?year=2024")
    assert response.status_code == 200
    assert _rows(load_workbook(io.BytesIO(response.content))["流水"])[1] == ("户名", "王*")
    pool = Account.objects.get(kind=AccountKind.POOL)
    pdf = client.get(reverse("timebank:account_statement_pdf", args=[pool.pk]))
    assert pdf.status_code == 200
    assert "户名甲社区（社区互助池）" in page_texts(pdf.content)[0]
    assert [row[:2] for row in _exports()] == [
        ("worker-a", str(script.account.pk)),
        ("worker-a", str(pool.pk)),
    ]


def test_other_accounts_are_missing(script, city):
    helper = client_for(User.objects.get(username="li"))
    worker_b = client_for(city.worker_b)
    for client in (helper, worker_b):
        for name in ("timebank:account_statement_xlsx", "timebank:account_statement_pdf"):
            assert client.get(reverse(name, args=[script.account.pk])).status_code == 404
            assert client.get(reverse(name, args=[999_999])).status_code == 404
    for name in ("timebank:statement_xlsx", "timebank:statement_pdf"):
        assert client_for(city.worker_a).get(reverse(name)).status_code == 404
    assert _exports() == []


def test_downloads_need_sign_in_a_get_and_a_sane_period(script):
    url = reverse("timebank:statement_xlsx")
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    client = client_for(User.objects.get(username="wang"))
    assert client.post(url).status_code == 405
    for query in ("?year=abc", "?year=1999", "?year=2024&month=13", "?month=3"):
        response = client.get(url + query)
        assert response.status_code == 400, query
    assert client.get(url + "?month=3").content.decode() == "指定月份时须同时指定年份"
    assert client.get(url + "?year=1999").content.decode() == "年份应为 2000 到 2999 之间的整数"
    assert _exports() == []
