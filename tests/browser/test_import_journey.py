"""Issue 3's "done when": a worker imports a real-looking 500-row register with mistakes
in it, fixes the reported rows, re-imports, and ends with exactly the right volunteers."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from openpyxl import load_workbook

from huzhu.people.services import id_number_hash
from huzhu.volunteers.models import Volunteer
from tests.browser.conftest import login
from tests.factories import make_id_number
from tests.volunteers.fixtures import row, write_register

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "秀英桂兰建国志强丽华明辉淑芬玉梅海燕国庆文静春生"


def build_register(path, count: int = 500):
    """``count`` people, of whom the rows listed in ``broken`` carry typical mistakes.
    Returns (path, the correct ID numbers of all people, {row number: fix})."""
    rng = random.Random(7)
    people, rows, fixes = [], [], {}
    for n in range(1, count + 1):
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 50))
        id_number = make_id_number(birth, male=n % 2 == 1)
        phone = f"13{rng.randrange(0, 10)}{rng.randrange(0, 10**8):08d}"
        name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2))
        people.append(id_number)
        values = dict(
            n=n,
            name=name,
            id_number=id_number,
            phone=phone,
            skills="维修、驾驶",
            categories="社区服务",
            served="老年人",
            availability="周六上午",
            political="群众",
            hours=12.5,
        )
        excel_row = n + 3  # two title rows and the header above
        if n % 50 == 7:  # wrong check character
            fixes[excel_row] = ("身份证号", id_number)
            values["id_number"] = id_number[:-1] + ("0" if id_number[-1] != "0" else "1")
        elif n % 50 == 19:  # a 10-digit phone
            fixes[excel_row] = ("手机号码", phone)
            values["phone"] = phone[:10]
        elif n % 100 == 33:  # a category that does not exist
            fixes[excel_row] = ("服务类别", "社区服务")
            values["categories"] = "社区活动"
        rows.append(row(**values))
    titles = [("历山路社区志愿者登记花名册",), ("填报单位：历山路社区居委会",)]
    write_register(path, rows, titles=titles, text_columns=[2, 3])
    return path, people, fixes


def fix_report(report_path, fixed_path, fixes_by_id):
    """The worker corrects each reported row in the error report and saves it."""
    workbook = load_workbook(report_path)
    sheet = workbook.active
    header_row = next(
        r for r in sheet.iter_rows(min_row=1, max_row=10) if any(c.value == "姓名" for c in r)
    )
    columns = {c.value: c.column for c in header_row}
    fixed = 0
    for cells in sheet.iter_rows(min_row=header_row[0].row + 1):
        n = cells[columns["序号"] - 1].value
        if n in fixes_by_id:
            column, value = fixes_by_id[n]
            sheet.cell(row=cells[0].row, column=columns[column], value=value)
            fixed += 1
    workbook.save(fixed_path)
    return fixed


@pytest.mark.django_db(transaction=True)
def test_worker_imports_fixes_and_reimports_a_register(page, city, tmp_path):
    path, people, fixes = build_register(tmp_path / "历山路社区志愿者名册.xlsx")
    assert len(fixes) == 25
    fixes_by_n = {excel_row - 3: fix for excel_row, fix in fixes.items()}
    login(page, "worker-a")

    page.goto(page.base_url + "/volunteers/import/")
    page.select_option("select[name=org]", str(city.community_a.pk))
    page.set_input_files("input[name=file]", str(path))
    page.click("button:has-text('上传并检查')")
    assert page.locator("[data-count=valid]").inner_text() == "475"
    assert page.locator("[data-count=invalid]").inner_text() == "25"
    page.click("button:has-text('导入有效行')")
    assert page.locator("[data-count=imported]").inner_text() == "475"
    assert page.locator("[data-count=rejected]").inner_text() == "25"
    assert Volunteer.objects.filter(org=city.community_a).count() == 475

    with page.expect_download() as download_info:
        page.click("a:has-text('下载错误报告')")
    report = tmp_path / "errors.xlsx"
    download_info.value.save_as(report)
    fixed = tmp_path / "fixed.xlsx"
    assert fix_report(report, fixed, fixes_by_n) == 25

    page.goto(page.base_url + "/volunteers/import/")
    page.select_option("select[name=org]", str(city.community_a.pk))
    page.set_input_files("input[name=file]", str(fixed))
    page.click("button:has-text('上传并检查')")
    assert page.locator("[data-count=valid]").inner_text() == "25"
    assert page.locator("[data-count=invalid]").inner_text() == "0"
    page.click("button:has-text('导入有效行')")
    assert page.locator("[data-count=imported]").inner_text() == "25"

    # Importing the original file again adds nobody.
    page.goto(page.base_url + "/volunteers/import/")
    page.select_option("select[name=org]", str(city.community_a.pk))
    page.set_input_files("input[name=file]", str(path))
    page.click("button:has-text('上传并检查')")
    page.click("button:has-text('导入有效行')")
    assert page.locator("[data-count=imported]").inner_text() == "0"

    registered = set(
        Volunteer.objects.filter(org=city.community_a).values_list(
            "person__id_number_hash", flat=True
        )
    )
    assert registered == {id_number_hash(number) for number in people}
    assert Volunteer.objects.count() == 500
