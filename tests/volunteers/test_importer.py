"""Excel import of volunteer registers: the importer and ``huzhu import-volunteers``."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook, load_workbook

from huzhu.common.models import AuditEntry
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.volunteers.availability import parse_text
from huzhu.volunteers.importer import (
    COLUMNS,
    ImportFileError,
    RowError,
    parse_date,
    volunteer_import,
)
from huzhu.volunteers.models import (
    PoliticalStatus,
    RegistrationSource,
    ServiceCategory,
    TeamMembership,
    Volunteer,
    VolunteerStatus,
    VolunteerStatusChange,
)
from huzhu.volunteers.services import RegistrationInput, volunteer_register
from tests.factories import UserFactory, grant, make_id_number, make_org, make_person
from tests.volunteers.fixtures import HEADER, row, write_register

TODAY = dt.date(2026, 11, 29)
ADULT = dt.date(1985, 3, 2)


@pytest.fixture
def teams(city):
    corps = make_org(OrgKind.CORPS, "甲社区志愿者总队", city.community_a)
    return {
        "助老": make_org(OrgKind.TEAM, "助老服务队", corps),
        "应急": make_org(OrgKind.TEAM, "应急服务队", corps),
    }


def run(city, path, *, org=None, user=None, **kwargs):
    user = user or city.worker_a
    return volunteer_import(
        actor=user,
        scope=Scope.for_user(user),
        org=org or city.community_a,
        source=path,
        today=kwargs.pop("today", TODAY),
        **kwargs,
    )


def cli(city, path, *args, org=None, user="worker-a"):
    out = io.StringIO()
    options = ["--org", str((org or city.community_a).pk)]
    if user:
        options += ["--user", user]
    call_command("import_volunteers", str(path), *options, *args, stdout=out)
    return out.getvalue()


def cli_lines(city, path, *args, **kwargs):
    return cli(city, path, *args, **kwargs).rstrip("\n").split("\n")


def good_row(n=1, born=ADULT, male=True, **values):
    data = {
        "n": n,
        "name": "王建国",
        "id_number": make_id_number(born, male=male),
        "phone": "13800001234",
    }
    data.update(values)
    return row(**data)


def volunteer_of(id_number):
    from huzhu.people.services import id_number_hash

    return Volunteer.objects.select_related("person", "org").get(
        person__id_number_hash=id_number_hash(id_number)
    )


# --- header and columns -------------------------------------------------------------------


@pytest.mark.django_db
def test_header_found_below_title_rows_and_a_full_row_is_imported(city, teams, tmp_path):
    id_number = make_id_number(dt.date(1960, 5, 1), male=False)
    path = write_register(
        tmp_path / "名册.xlsx",
        [
            row(
                n=1,
                name="王秀英",
                id_number=id_number,
                phone="13800001234",
                gender="女",
                birth="1960-05-01",
                community="甲社区第一网格",
                team="助老服务队",
                skills="医疗、剪纸",
                categories="社区服务，卫生健康",
                served="老年人",
                availability="周六上午、周日全天",
                political="党员",
                hours=12.5,
                notes="腿脚不便，只做电话回访",
            )
        ],
        titles=[["甲社区志愿者登记名册"], ["填报单位：甲社区居委会", None, "填报日期：2026年11月"]],
        text_columns=[2],
    )
    result = run(city, path)
    assert (result.sheet, result.header_row, result.rows) == ("志愿者名册", 3, 1)
    assert result.errors == []
    assert (result.imported, result.updated, result.unchanged, result.rejected) == (1, 0, 0, 0)
    assert result.committed
    volunteer = volunteer_of(id_number)
    assert volunteer.person.name == "王秀英"
    assert volunteer.person.phone_masked == "138****1234"
    assert volunteer.person.org == city.grid_a
    assert volunteer.org == city.grid_a
    assert volunteer.number == "V20260000001"
    assert volunteer.status == VolunteerStatus.REGISTERED
    assert volunteer.source == RegistrationSource.IMPORT
    assert volunteer.approved_by == city.worker_a
    assert volunteer.approved_at is not None
    assert volunteer.political_status == PoliticalStatus.CPC_MEMBER
    assert volunteer.availability == parse_text("周六上午、周日全天")
    assert (volunteer.historical_minutes, volunteer.recorded_minutes) == (750, 750)
    assert volunteer.notes == "腿脚不便，只做电话回访"
    assert sorted(s.name for s in volunteer.skills.all()) == ["剪纸", "医疗"]
    assert sorted(c.name for c in volunteer.categories.all()) == ["卫生健康", "社区服务"]
    assert [g.name for g in volunteer.served_groups.all()] == ["老年人"]
    memberships = list(TeamMembership.objects.filter(volunteer=volunteer))
    assert [(m.team, m.role, m.joined_on) for m in memberships] == [
        (teams["助老"], "member", TODAY)
    ]
    changes = list(
        VolunteerStatusChange.objects.filter(volunteer=volunteer).values_list(
            "from_status", "to_status", "reason", "actor_label"
        )
    )
    assert changes == [("", "registered", "名册导入", "worker-a")]


@pytest.mark.django_db
def test_header_in_first_row_and_columns_in_any_order_extra_columns_ignored(city, tmp_path):
    id_number = make_id_number(ADULT)
    path = write_register(
        tmp_path / "r.xlsx",
        [["x", "13900001111", "无关内容", id_number, "李强"]],
        header=["随便一列", "联系电话", "其他", "公民身份号码", "姓名"],
    )
    result = run(city, path)
    assert (result.header_row, result.imported, result.errors) == (1, 1, [])
    volunteer = volunteer_of(id_number)
    assert (volunteer.person.name, volunteer.person.phone_masked) == ("李强", "139****1111")
    assert volunteer.org == city.community_a


@pytest.mark.django_db
def test_header_row_beyond_the_first_ten_rows_is_a_file_error(city, tmp_path):
    titles = [[f"说明第{i}行"] for i in range(1, 11)]
    path = write_register(tmp_path / "r.xlsx", [good_row()], titles=titles)
    with pytest.raises(ImportFileError) as caught:
        run(city, path)
    assert caught.value.message == (
        "在前10行中没有找到表头行：表头应至少包含“姓名”“身份证号”等3个列名（表头上方可以有标题行）"
    )


@pytest.mark.django_db
def test_header_without_the_id_column_is_a_file_error(city, tmp_path):
    path = write_register(
        tmp_path / "r.xlsx",
        [["李强", "13900001111", "男"]],
        header=["姓名", "手机", "性别"],
        titles=[["名册"]],
    )
    with pytest.raises(ImportFileError) as caught:
        run(city, path)
    assert caught.value.message == (
        "第2行的表头缺少必需的列：身份证号（身份证号/身份证号码/公民身份号码/公民身份证号码）"
    )


def _variant_cases():
    values = {
        "name": "赵敏",
        "id_number": None,  # filled per case
        "phone": "13800001234",
        "gender": "男",
        "birth_date": "1985-03-02",
        "community": "甲社区第一网格",
        "team": "应急服务队",
        "skills": "驾驶 维修",
        "categories": "应急救援",
        "served_groups": "老年人、儿童",
        "availability": "工作日晚上",
        "political_status": "团员",
        "historical_hours": "3.5小时",
        "notes": "夜班",
        "address": "甲社区3号楼",
        "guardian_name": "赵大",
        "guardian_phone": "13911112222",
        "guardian_consent": "是",
        "publish_name": "是",
    }
    for column in COLUMNS:
        for variant in column.variants:
            yield pytest.param(
                column.key, variant, values[column.key], id=f"{column.key}-{variant}"
            )


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "variant", "value"), list(_variant_cases()))
def test_every_column_variant_is_recognised(city, teams, tmp_path, key, variant, value):
    minor = key.startswith("guardian")
    birth = dt.date(2012, 3, 2) if minor else ADULT
    id_number = make_id_number(birth)
    base = {"name": ("姓名", "赵敏"), "id_number": ("身份证号", id_number), "notes": ("备注", "")}
    if minor:
        base.update(
            guardian_name=("监护人", "赵大"),
            guardian_consent=("监护人同意", "是"),
        )
    base[key] = (variant, id_number if key == "id_number" else value)
    if "备注" in {h for h, _v in base.values()} and key == "notes":
        pass
    header = [h for h, _v in base.values()]
    cells = [v for _h, v in base.values()]
    if len(set(header)) < 3:  # three known headers make a header row
        header.append("性别")
        cells.append("男")
    path = write_register(tmp_path / "r.xlsx", [cells], header=header)
    result = run(city, path)
    assert result.errors == []
    assert result.imported == 1
    volunteer = volunteer_of(id_number)
    person = volunteer.person
    checks = {
        "name": lambda: person.name == "赵敏",
        "id_number": lambda: person.id_number_masked == id_number[:4] + "*" * 10 + id_number[-4:],
        "phone": lambda: person.phone_masked == "138****1234",
        "gender": lambda: person.gender == "M",
        "birth_date": lambda: person.birth_date == ADULT,
        "community": lambda: volunteer.org == city.grid_a,
        "team": lambda: (
            list(volunteer.memberships.values_list("team__name", flat=True)) == ["应急服务队"]
        ),
        "skills": lambda: (
            sorted(volunteer.skills.values_list("name", flat=True)) == ["维修", "驾驶"]
        ),
        "categories": lambda: (
            list(volunteer.categories.values_list("name", flat=True)) == ["应急救援"]
        ),
        "served_groups": lambda: (
            sorted(volunteer.served_groups.values_list("name", flat=True)) == ["儿童", "老年人"]
        ),
        "availability": lambda: volunteer.availability == parse_text("工作日晚上"),
        "political_status": lambda: volunteer.political_status == PoliticalStatus.CYL_MEMBER,
        "historical_hours": lambda: volunteer.historical_minutes == 210,
        "notes": lambda: volunteer.notes == "夜班",
        "address": lambda: person.address == "甲社区3号楼",
        "guardian_name": lambda: volunteer.guardian_name == "赵大",
        "guardian_phone": lambda: volunteer.guardian_phone_masked == "139****2222",
        "guardian_consent": lambda: volunteer.guardian_consent_at is not None,
        "publish_name": lambda: volunteer.publish_name is True,
    }
    assert checks[key](), key


@pytest.mark.django_db
def test_headers_with_stray_spaces_full_width_and_markers(city, tmp_path):
    id_number = make_id_number(ADULT)
    path = write_register(
        tmp_path / "r.xlsx",
        [["李强", id_number, "8"]],
        header=["* 姓　名", "身份证号（必填）", "历史服务时长（小时）"],
    )
    result = run(city, path)
    assert result.errors == []
    assert volunteer_of(id_number).historical_minutes == 480


@pytest.mark.django_db
def test_specific_phone_column_wins_over_landline_column(city, tmp_path):
    id_number = make_id_number(ADULT)
    path = write_register(
        tmp_path / "r.xlsx",
        [["李强", "0531-88888888", id_number, "13900001111"]],
        header=["姓名", "联系电话", "身份证号", "手机号码"],
    )
    result = run(city, path)
    assert result.errors == []
    assert volunteer_of(id_number).person.phone_masked == "139****1111"


@pytest.mark.django_db
def test_full_width_characters_and_spaces_are_normalised(city, tmp_path):
    id_number = make_id_number(ADULT)
    full_width_id = id_number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    path = write_register(
        tmp_path / "r.xlsx",
        [
            good_row(
                name=" 王 建国 ", id_number=f" {full_width_id} ", phone="１３８ ００００ １２３４"
            )
        ],
    )
    result = run(city, path)
    assert result.errors == []
    person = volunteer_of(id_number).person
    assert (person.name, person.phone_masked) == ("王建国", "138****1234")


@pytest.mark.django_db
def test_old_fifteen_digit_number_is_accepted(city, tmp_path):
    path = write_register(tmp_path / "r.xlsx", [good_row(id_number=370102850302123)])
    result = run(city, path)
    assert result.errors == []
    person = Person.objects.get()
    assert person.birth_date == ADULT
    assert person.id_number.startswith("37010219850302123")


# --- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "1985-03-02",
        "1985/3/2",
        "1985.3.2",
        "1985年3月2日",
        "1985 年 3 月 2 日",
        "19850302",
        19850302,
        31108,  # Excel serial number
        31108.0,
        dt.datetime(1985, 3, 2),
        dt.date(1985, 3, 2),
        "1985-03-02 00:00:00",
    ],
)
def test_parse_date_forms(value):
    assert parse_date(value) == ADULT


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1985-02-30", "日期不存在（请核对年、月、日）"),
        ("1985-13-01", "日期不存在（请核对年、月、日）"),
        ("三月二日", "无法识别的日期格式，请写成 1985-03-02、1985/3/2 或 1985年3月2日"),
        ("85-3-2", "无法识别的日期格式，请写成 1985-03-02、1985/3/2 或 1985年3月2日"),
    ],
)
def test_parse_date_rejects(value, message):
    with pytest.raises(ValueError) as caught:
        parse_date(value)
    assert str(caught.value) == message


@pytest.mark.django_db
@pytest.mark.parametrize(
    "birth",
    [
        "1985-03-02",
        "1985/3/2",
        "1985.3.2",
        "1985年3月2日",
        31108,
        dt.datetime(1985, 3, 2),
    ],
)
def test_every_date_form_in_a_register(city, tmp_path, birth):
    path = write_register(tmp_path / "r.xlsx", [good_row(born=ADULT, gender="男")])
    workbook = load_workbook(path)
    workbook.active["F2"] = birth  # 出生日期
    if isinstance(birth, dt.datetime):
        workbook.active["F2"].number_format = "yyyy-mm-dd"
    workbook.save(path)
    result = run(city, path)
    assert result.errors == []
    assert result.imported == 1


# --- bad input ----------------------------------------------------------------------------


def _bad(city, tmp_path, bad_row, **kwargs):
    """A register with a good row 2, the bad row 3 and a good row 4."""
    path = write_register(
        tmp_path / "bad.xlsx", [good_row(1), bad_row, good_row(3)], text_columns=[2]
    )
    result = run(city, path, **kwargs)
    assert result.rejected == 1
    assert result.imported == 2
    assert Person.objects.count() == 2  # nothing of the bad row was written
    return result.errors


@pytest.mark.django_db
def test_wrong_checksum(city, tmp_path):
    good = make_id_number(ADULT)
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert _bad(city, tmp_path, good_row(2, id_number=wrong)) == [
        RowError(3, "身份证号", "C", "身份证号校验位不正确，请核对后重新输入")
    ]


@pytest.mark.django_db
def test_impossible_birth_date_in_the_id_number(city, tmp_path):
    from stdnum.cn import ric

    body = "37010219850230123"  # 30 February
    id_number = body + ric.calc_check_digit(body + "0")
    assert _bad(city, tmp_path, good_row(2, id_number=id_number)) == [
        RowError(3, "身份证号", "C", "身份证号中的出生日期无效")
    ]


@pytest.mark.django_db
def test_impossible_birth_date_in_the_date_column(city, tmp_path):
    assert _bad(city, tmp_path, good_row(2, birth="1985-02-30")) == [
        RowError(3, "出生日期", "F", "日期不存在（请核对年、月、日）")
    ]


@pytest.mark.django_db
def test_birth_date_and_gender_must_agree_with_the_id_number(city, tmp_path):
    errors = _bad(city, tmp_path, good_row(2, birth="1985-03-03", gender="女"))
    assert errors == [
        RowError(3, "性别", "E", "性别与身份证号不符（按身份证号应为“男”）"),
        RowError(3, "出生日期", "F", "出生日期与身份证号中的出生日期不一致"),
    ]


@pytest.mark.django_db
def test_ten_digit_phone(city, tmp_path):
    assert _bad(city, tmp_path, good_row(2, phone="1380000123")) == [
        RowError(3, "手机号码", "D", "手机号应为以1开头的11位数字")
    ]


@pytest.mark.django_db
def test_minor_without_guardian_consent(city, tmp_path):
    path = write_register(
        tmp_path / "minor.xlsx",
        [
            ["小明", make_id_number(dt.date(2012, 3, 2)), "", ""],
            ["小红", make_id_number(dt.date(2012, 4, 2), male=False), "李四", "否"],
            ["小刚", make_id_number(dt.date(2010, 1, 1)), "王五", "是"],
        ],
        header=["姓名", "身份证号", "监护人", "监护人同意"],
    )
    result = run(city, path)
    assert result.errors == [
        RowError(
            2, "监护人同意", "D", "未满18周岁须经监护人同意后方可注册（“监护人同意”列请填“是”）"
        ),
        RowError(2, "监护人", "C", "未满18周岁须填写监护人姓名"),
        RowError(
            3, "监护人同意", "D", "未满18周岁须经监护人同意后方可注册（“监护人同意”列请填“是”）"
        ),
    ]
    assert (result.imported, result.rejected) == (1, 2)
    volunteer = Volunteer.objects.get()
    assert (volunteer.person.name, volunteer.guardian_name) == ("小刚", "王五")
    assert volunteer.guardian_consent_at is not None


@pytest.mark.django_db
def test_minor_in_a_register_without_guardian_columns(city, tmp_path):
    path = write_register(
        tmp_path / "r.xlsx", [good_row(1, born=dt.date(2015, 6, 1))], text_columns=[2]
    )
    result = run(city, path)
    assert result.errors == [
        RowError(
            2, "监护人同意", "", "未满18周岁须经监护人同意后方可注册（“监护人同意”列请填“是”）"
        ),
        RowError(2, "监护人姓名", "", "未满18周岁须填写监护人姓名"),
    ]
    assert str(result.errors[1]) == "第2行 监护人姓名：未满18周岁须填写监护人姓名"


@pytest.mark.django_db
def test_duplicate_rows_in_one_file_name_the_first_row(city, tmp_path):
    id_number = make_id_number(ADULT)
    path = write_register(
        tmp_path / "dup.xlsx",
        [
            good_row(1, id_number=id_number),
            good_row(2),
            good_row(3, id_number=id_number.lower()),
            good_row(4, id_number=" " + id_number),
        ],
        text_columns=[2],
    )
    result = run(city, path, batch_size=2)  # the duplicates fall in another batch
    assert [str(e) for e in result.errors] == [
        "第4行 身份证号（C列）：与第2行的身份证号重复",
        "第5行 身份证号（C列）：与第2行的身份证号重复",
    ]
    assert (result.imported, result.rejected) == (2, 2)
    assert Volunteer.objects.count() == 2


@pytest.mark.django_db
def test_id_number_stored_as_a_number_asks_for_a_text_column(city, tmp_path):
    id_number = make_id_number(ADULT)
    message = "身份证号被Excel存成了数字，后几位已丢失：请把该列设置为“文本”格式后重新录入身份证号"
    assert _bad(city, tmp_path, good_row(2, id_number=float(id_number[:17] + "0"))) == [
        RowError(3, "身份证号", "C", message)
    ]


@pytest.mark.django_db
def test_id_number_in_scientific_notation_text(city, tmp_path):
    errors = _bad(city, tmp_path, good_row(2, id_number="3.70102E+17"))
    assert errors == [
        RowError(
            3,
            "身份证号",
            "C",
            "身份证号显示为科学计数法（如1.10105E+17），后几位已丢失：请把该列设置为“文本”格式后重新录入身份证号",
        )
    ]


@pytest.mark.django_db
def test_unknown_classification_values_are_named(city, teams, tmp_path):
    errors = _bad(
        city,
        tmp_path,
        good_row(
            2,
            categories="社区服务、广场舞",
            served="老年人,外星人",
            team="篮球队",
            political="无党派",
            availability="有空就来",
            hours="十小时",
            community="丙社区",
        ),
    )
    assert errors == [
        RowError(3, "所属社区", "G", "在“甲社区”下找不到社区或网格“丙社区”"),
        RowError(3, "服务类别", "J", "服务类别“广场舞”不存在"),
        RowError(3, "服务对象", "K", "服务对象“外星人”不存在"),
        RowError(3, "可服务时间", "L", "无法识别的服务时间：有空就来"),
        RowError(
            3,
            "政治面貌",
            "M",
            "无法识别的政治面貌“无党派”（可填：中共党员、中共预备党员、共青团员、民主党派、群众）",
        ),
        RowError(3, "历史服务时长(小时)", "N", "历史服务时长应为数字（小时），如 12.5"),
    ]


@pytest.mark.django_db
def test_unknown_team_is_a_row_error(city, teams, tmp_path):
    assert _bad(city, tmp_path, good_row(2, team="助老服务队、篮球队")) == [
        RowError(3, "服务队", "H", "社区志愿者总队下没有服务队“篮球队”")
    ]


@pytest.mark.django_db
def test_empty_name_and_negative_hours(city, tmp_path):
    assert _bad(city, tmp_path, good_row(2, name="  ", hours=-3)) == [
        RowError(3, "姓名", "B", "姓名不能为空"),
        RowError(3, "历史服务时长(小时)", "N", "历史服务时长不能为负数"),
    ]


@pytest.mark.django_db
def test_not_an_excel_file(city, tmp_path):
    text = tmp_path / "名册.xlsx"
    text.write_text("姓名,身份证号\n张三,110105198503021234\n", encoding="utf-8")
    with pytest.raises(ImportFileError) as caught:
        run(city, text)
    assert caught.value.message == "文件不是Excel工作簿（.xlsx）：请选择用Excel保存的.xlsx文件"

    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    with pytest.raises(ImportFileError) as caught:
        run(city, old)
    assert caught.value.message == (
        "这是旧版Excel（.xls）文件：请在Excel中“另存为”Excel工作簿（.xlsx）后再导入"
    )

    other_zip = tmp_path / "doc.xlsx"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(ImportFileError) as caught:
        run(city, other_zip)
    assert (
        caught.value.message == "文件不是有效的Excel工作簿（.xlsx），可能已损坏或是其他格式的文件"
    )

    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    with pytest.raises(ImportFileError) as caught:
        run(city, empty)
    assert caught.value.message == "文件是空的"


@pytest.mark.django_db
def test_empty_sheet(city, tmp_path):
    path = tmp_path / "empty.xlsx"
    Workbook().save(path)
    with pytest.raises(ImportFileError) as caught:
        run(city, path)
    assert caught.value.message == "工作表是空的，没有任何数据"


@pytest.mark.django_db
def test_header_without_data_rows(city, tmp_path):
    path = write_register(tmp_path / "r.xlsx", [], titles=[["名册"]])
    with pytest.raises(ImportFileError) as caught:
        run(city, path)
    assert caught.value.message == "第2行是表头，但表头下面没有任何数据行"


@pytest.mark.django_db
def test_register_on_a_later_sheet_and_blank_rows_skipped(city, tmp_path):
    path = tmp_path / "r.xlsx"
    workbook = Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["填表说明：身份证号列请设为文本格式"])
    sheet = workbook.create_sheet("名册")
    sheet.append(list(HEADER))
    sheet.append(good_row(1))
    sheet.append([])
    sheet.append([None, "  "])
    sheet.append(good_row(2, phone="123"))
    workbook.save(path)
    result = run(city, path)
    assert (result.sheet, result.rows, result.imported) == ("名册", 2, 1)
    assert [(e.row, e.column) for e in result.errors] == [(5, "手机号码")]


# --- the org and the scope ----------------------------------------------------------------


@pytest.mark.django_db
def test_import_into_a_street_needs_the_community_of_each_row(city, tmp_path):
    grant(city.worker_a, city.street, Role.WORKER)
    path = write_register(
        tmp_path / "r.xlsx",
        [
            good_row(1, community="乙社区"),
            good_row(2, community=""),
            good_row(3, community="甲社区"),
        ],
    )
    result = run(city, path, org=city.street)
    assert result.errors == [
        RowError(
            3, "所属社区", "G", "所属社区不能为空：导入到“解放路街道”时每一行都须填写所属社区或网格"
        )
    ]
    assert sorted(Volunteer.objects.values_list("org__name", flat=True)) == ["乙社区", "甲社区"]


@pytest.mark.django_db
def test_import_needs_volunteer_manage_on_the_org(city, tmp_path):
    from django.core.exceptions import PermissionDenied

    path = write_register(tmp_path / "r.xlsx", [good_row(1)])
    with pytest.raises(PermissionDenied):
        run(city, path, org=city.community_b)
    out_err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(
            "import_volunteers",
            str(path),
            "--org",
            "乙社区",
            "--user",
            "worker-a",
            stdout=io.StringIO(),
            stderr=out_err,
        )
    assert str(caught.value) == "您没有管理该组织志愿者的权限"
    assert Volunteer.objects.count() == 0


@pytest.mark.django_db
def test_existing_resident_becomes_a_volunteer_without_a_second_person(city, tmp_path):
    id_number = make_id_number(ADULT)
    resident = make_person(city.grid_a, "刘芳", id_number=id_number)
    path = write_register(
        tmp_path / "r.xlsx",
        [good_row(1, name="刘芳", id_number=id_number), good_row(2, name="刘方", id_number=None)],
    )
    # row 3 reuses the ID with another name
    workbook = load_workbook(path)
    workbook.active["C3"] = id_number
    workbook.save(path)
    result = run(city, path)
    assert [str(e) for e in result.errors] == ["第3行 身份证号（C列）：与第2行的身份证号重复"]
    assert Person.objects.count() == 1
    assert Volunteer.objects.get().person == resident


@pytest.mark.django_db
def test_name_must_match_the_person_on_file(city, tmp_path):
    id_number = make_id_number(ADULT)
    make_person(city.grid_a, "刘芳", id_number=id_number)
    path = write_register(tmp_path / "r.xlsx", [good_row(1, name="刘方", id_number=id_number)])
    result = run(city, path)
    assert result.errors == [
        RowError(2, "姓名", "B", "姓名与该身份证号已登记的居民姓名不一致，请核对")
    ]
    assert Volunteer.objects.count() == 0


@pytest.mark.django_db
def test_volunteer_of_another_community_is_not_changed(city, tmp_path):
    id_number = make_id_number(ADULT)
    volunteer_register(
        actor=city.worker_b,
        scope=Scope.for_user(city.worker_b),
        org=city.community_b,
        data=RegistrationInput(name="王建国", id_number=id_number),
    )
    path = write_register(tmp_path / "r.xlsx", [good_row(1, id_number=id_number, political="党员")])
    result = run(city, path)
    assert result.errors == [
        RowError(2, "身份证号", "C", "该身份证号已在其他组织登记为志愿者，您无权修改其登记信息")
    ]
    assert volunteer_of(id_number).political_status == PoliticalStatus.MASSES


# --- modes, re-import, report, output -----------------------------------------------------


def _mixed_register(tmp_path, name="mixed.xlsx"):
    return write_register(
        tmp_path / name,
        [good_row(1), good_row(2, phone="1380000123"), good_row(3)],
        titles=[["甲社区志愿者名册"]],
        text_columns=[2],
    )


@pytest.mark.django_db
def test_default_mode_commits_valid_rows_and_reports_bad_ones(city, tmp_path):
    lines = cli_lines(city, _mixed_register(tmp_path))
    assert lines == [
        "mixed.xlsx：工作表“志愿者名册”，表头在第2行，共 3 行数据",
        "第4行 手机号码（D列）：手机号应为以1开头的11位数字",
        "已导入到“甲社区”：新增 2 人，更新 0 人，无变化 0 人，错误 1 行",
        "imported 2, updated 0, rejected 1",
    ]
    assert Volunteer.objects.count() == 2
    entry = AuditEntry.objects.get(verb="volunteer.import")
    assert entry.actor == city.worker_a
    assert entry.org == city.community_a
    assert entry.data == {
        "file": "mixed.xlsx",
        "sheet": "志愿者名册",
        "rows": 3,
        "imported": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "strict": False,
    }
    assert AuditEntry.objects.filter(verb="volunteer.register").count() == 0


@pytest.mark.django_db
def test_strict_mode_commits_nothing_when_a_row_is_bad(city, tmp_path):
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(
            "import_volunteers",
            str(_mixed_register(tmp_path)),
            "--org",
            "甲社区",
            "--strict",
            "--user",
            "worker-a",
            stdout=out,
        )
    assert str(caught.value) == "严格模式：有 1 行错误，未导入任何数据"
    lines = out.getvalue().rstrip("\n").split("\n")
    assert lines[-2:] == [
        "严格模式：发现 1 行错误，未导入任何数据（请改正后重新导入）",
        "imported 0, updated 0, rejected 1",
    ]
    assert (Person.objects.count(), Volunteer.objects.count()) == (0, 0)
    assert not AuditEntry.objects.filter(verb="volunteer.import").exists()


@pytest.mark.django_db
def test_strict_mode_rolls_back_batches_written_before_the_bad_row(city, tmp_path):
    rows = [good_row(i) for i in range(1, 8)] + [good_row(8, phone="12")]
    path = write_register(tmp_path / "r.xlsx", rows)
    result = run(city, path, strict=True, batch_size=3)
    assert (result.imported, result.rejected, result.committed) == (0, 1, False)
    assert (Person.objects.count(), Volunteer.objects.count()) == (0, 0)
    result = run(city, write_register(tmp_path / "ok.xlsx", rows[:7]), strict=True, batch_size=3)
    assert (result.imported, result.committed) == (7, True)


@pytest.mark.django_db
def test_strict_mode_without_errors_commits_everything(city, tmp_path):
    path = write_register(tmp_path / "ok.xlsx", [good_row(1), good_row(2)])
    assert cli_lines(city, path, "--strict")[-1] == "imported 2, updated 0, rejected 0"
    assert Volunteer.objects.count() == 2


@pytest.mark.django_db
def test_dry_run_validates_and_counts_without_writing(city, tmp_path):
    lines = cli_lines(city, _mixed_register(tmp_path), "--dry-run")
    assert lines[-2:] == [
        "试运行（未写入）：可新增 2 人，更新 0 人，无变化 0 人，错误 1 行",
        "imported 2, updated 0, rejected 1",
    ]
    assert (Person.objects.count(), Volunteer.objects.count()) == (0, 0)
    assert not AuditEntry.objects.filter(verb="volunteer.import").exists()


@pytest.mark.django_db
def test_reimport_creates_no_duplicates_and_counts_updated_and_unchanged(city, teams, tmp_path):
    ids = [make_id_number(ADULT), make_id_number(dt.date(1970, 1, 1)), make_id_number(ADULT)]
    first = write_register(
        tmp_path / "v1.xlsx",
        [
            good_row(1, id_number=ids[0], categories="社区服务", skills="医疗", hours=10),
            good_row(2, id_number=ids[1], team="助老服务队", political="党员"),
            good_row(3, id_number=ids[2]),
        ],
    )
    assert cli_lines(city, first)[-1] == "imported 3, updated 0, rejected 0"
    numbers = dict(Volunteer.objects.values_list("person_id", "number"))
    again = cli_lines(city, first)
    assert again[-2:] == [
        "已导入到“甲社区”：新增 0 人，更新 0 人，无变化 3 人，错误 0 行",
        "imported 0, updated 0, rejected 0",
    ]
    second = write_register(
        tmp_path / "v2.xlsx",
        [
            # changed: a category, the hours, a skill
            good_row(1, id_number=ids[0], categories="社区服务、法律服务", skills="医疗", hours=12),
            # changed: joins a second team; blank cells leave the political status alone
            good_row(2, id_number=ids[1], team="助老服务队、应急服务队"),
            # unchanged
            good_row(3, id_number=ids[2]),
            # new
            good_row(4),
        ],
    )
    assert cli_lines(city, second)[-2:] == [
        "已导入到“甲社区”：新增 1 人，更新 2 人，无变化 1 人，错误 0 行",
        "imported 1, updated 2, rejected 0",
    ]
    assert Volunteer.objects.count() == Person.objects.count() == 4
    assert {
        k: v for k, v in Volunteer.objects.values_list("person_id", "number") if k in numbers
    } == numbers
    v0 = volunteer_of(ids[0])
    assert sorted(v0.categories.values_list("name", flat=True)) == ["法律服务", "社区服务"]
    assert (v0.historical_minutes, v0.recorded_minutes) == (720, 720)
    v1 = volunteer_of(ids[1])
    assert v1.political_status == PoliticalStatus.CPC_MEMBER
    assert sorted(
        TeamMembership.objects.filter(volunteer=v1).values_list("team__name", flat=True)
    ) == ["助老服务队", "应急服务队"]
    assert VolunteerStatusChange.objects.count() == 4  # one per registration
    assert cli_lines(city, second)[-1] == "imported 0, updated 0, rejected 0"


@pytest.mark.django_db
def test_moving_a_volunteer_to_another_grid_is_an_update(city, tmp_path):
    id_number = make_id_number(ADULT)
    run(city, write_register(tmp_path / "a.xlsx", [good_row(1, id_number=id_number)]))
    assert volunteer_of(id_number).org == city.community_a
    moved = write_register(
        tmp_path / "b.xlsx", [good_row(1, id_number=id_number, community="甲社区第一网格")]
    )
    result = run(city, moved)
    assert (result.updated, result.unchanged) == (1, 0)
    assert volunteer_of(id_number).org == city.grid_a
    # blank community: the volunteer stays where they are
    result = run(city, write_register(tmp_path / "c.xlsx", [good_row(1, id_number=id_number)]))
    assert (result.updated, result.unchanged) == (0, 1)


@pytest.mark.django_db
def test_suspended_volunteer_cannot_join_a_team_by_import(city, teams, tmp_path):
    from huzhu.volunteers.services import volunteer_set_status

    id_number = make_id_number(ADULT)
    run(city, write_register(tmp_path / "a.xlsx", [good_row(1, id_number=id_number)]))
    volunteer_set_status(
        actor=city.worker_a,
        scope=Scope.for_user(city.worker_a),
        volunteer=volunteer_of(id_number),
        status=VolunteerStatus.SUSPENDED,
        reason="外出",
    )
    result = run(
        city,
        write_register(tmp_path / "b.xlsx", [good_row(1, id_number=id_number, team="助老服务队")]),
    )
    assert result.errors == [
        RowError(2, "服务队", "H", "只有已注册的志愿者可以加入服务队（该志愿者当前状态：暂停）")
    ]
    assert not TeamMembership.objects.exists()


@pytest.mark.django_db
def test_error_report_holds_the_bad_rows_and_can_be_reimported(city, tmp_path):
    source = write_register(
        tmp_path / "r.xlsx",
        [good_row(1), good_row(2, name="李四", phone="1380000123", notes="三楼"), good_row(3)],
        titles=[["名册"]],
        text_columns=[2],
    )
    report = tmp_path / "errors.xlsx"
    lines = cli_lines(city, source, "--report", str(report))
    assert lines[-2:] == [
        f"错误报告：{report}（1 行，改正后可直接重新导入该文件）",
        "imported 2, updated 0, rejected 1",
    ]
    sheet = load_workbook(report).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    bad_id = load_workbook(source).active["C4"].value
    assert values[0][0] == "导入错误报告：r.xlsx → 甲社区；导出人：worker-a"
    assert values[0][1:] == [None] * len(HEADER)
    assert values[1] == [*HEADER, "错误原因"]
    assert values[2][:4] == [2, "李四", bad_id, "1380000123"]
    assert values[2][14] == "三楼"
    assert values[2][15] == "手机号码：手机号应为以1开头的11位数字"
    assert len(values) == 3
    # the worker corrects the phone in the report and imports just that file
    workbook = load_workbook(report)
    workbook.active["D3"] = "13800001235"
    workbook.save(report)
    assert cli_lines(city, report)[-1] == "imported 1, updated 0, rejected 0"
    assert Volunteer.objects.count() == 3
    assert volunteer_of(bad_id).notes == "三楼"


@pytest.mark.django_db
def test_output_and_audit_never_show_a_full_id_or_phone(city, tmp_path):
    ids = [make_id_number(ADULT) for _ in range(3)]
    wrong = ids[2][:-1] + ("0" if ids[2][-1] != "0" else "1")
    path = write_register(
        tmp_path / "r.xlsx",
        [
            good_row(1, id_number=ids[0], phone="13812345678"),
            good_row(2, id_number=ids[0]),  # duplicate
            good_row(3, id_number=wrong),
            good_row(4, id_number=ids[1], phone="1381234567"),
            good_row(5, id_number=ids[1].replace("X", "x"), political="13812345678"),
        ],
    )
    output = cli(city, path, "--report", str(tmp_path / "e.xlsx"))
    output += cli(city, path, "--dry-run")
    for secret in [*ids, wrong, "13812345678", "1381234567"]:
        assert secret not in output
    assert "138****5678" in output  # the political status cell, masked
    for entry in AuditEntry.objects.all():
        text = str(entry.data) + entry.target_label
        assert not any(secret in text for secret in [*ids, wrong, "13812345678"])


@pytest.mark.django_db
def test_command_file_errors(city, tmp_path):
    with pytest.raises(CommandError) as caught:
        cli(city, tmp_path / "missing.xlsx")
    assert str(caught.value) == f"文件不存在：{tmp_path / 'missing.xlsx'}"
    empty = tmp_path / "empty.xlsx"
    Workbook().save(empty)
    with pytest.raises(CommandError) as caught:
        cli(city, empty)
    assert str(caught.value) == "empty.xlsx：工作表是空的，没有任何数据"
    with pytest.raises(CommandError) as caught:
        cli(city, empty, "--report", str(tmp_path / "e.csv"))
    assert str(caught.value) == f"错误报告文件须以 .xlsx 结尾：{tmp_path / 'e.csv'}"
    with pytest.raises(CommandError) as caught:
        cli(city, empty, user="nobody")
    assert str(caught.value) == "用户 nobody 不存在"


@pytest.mark.django_db
def test_command_accepts_org_by_division_code_and_runs_as_system(city, tmp_path):
    path = write_register(tmp_path / "r.xlsx", [good_row(1)])
    lines = cli_lines(city, path, org=None, user="")
    assert lines[-1] == "imported 1, updated 0, rejected 0"
    out = io.StringIO()
    call_command("import_volunteers", str(path), "--org", "370102001001", "--dry-run", stdout=out)
    assert out.getvalue().rstrip("\n").split("\n")[-1] == "imported 0, updated 0, rejected 0"
    volunteer = Volunteer.objects.get()
    assert volunteer.approved_by is None
    assert VolunteerStatusChange.objects.get().actor_label == "系统"


# --- queries ------------------------------------------------------------------------------


def _rows(count, start=1):
    return [
        good_row(
            start + i,
            born=dt.date(1950, 1, 1) + dt.timedelta(days=(97 * (start + i)) % 20000),
            skills="医疗、驾驶",
            categories="社区服务",
            served="老年人",
            team="助老服务队",
            political="群众",
            hours=2,
        )
        for i in range(count)
    ]


def _queries(city, path, **kwargs):
    with CaptureQueriesContext(connection) as queries:
        result = run(city, path, **kwargs)
    assert result.errors == []
    return len(queries), result


@pytest.mark.django_db
def test_query_count_grows_with_batches_not_rows(city, teams, tmp_path):
    _queries(city, write_register(tmp_path / "warm.xlsx", _rows(3, 1000)))
    small, result = _queries(city, write_register(tmp_path / "50.xlsx", _rows(50, 1)))
    assert result.imported == 50
    path_150 = write_register(tmp_path / "150.xlsx", _rows(150, 100))
    large, result = _queries(city, path_150)
    assert result.imported == 150
    if connection.vendor == "postgresql":
        assert large == small
    else:
        # SQLite splits a bulk insert into chunks of 999 parameters: a few more statements
        # for 100 more rows (register and match profiles), never one per row.
        assert large - small <= 16
    # about 30 for the register, and a constant number (not one per row) to rebuild the
    # imported volunteers' match profiles
    assert small <= 50
    # re-importing (all unchanged) and the batch size: queries per batch stay bounded
    again, result = _queries(city, path_150)
    assert (result.unchanged, result.imported) == (150, 0)
    assert again <= 20
    batched, result = _queries(
        city, write_register(tmp_path / "150c.xlsx", _rows(150, 400)), batch_size=50
    )
    assert result.imported == 150
    assert batched <= 3 * small


@pytest.mark.django_db
def test_categories_are_data(city, tmp_path):
    ServiceCategory.objects.create(name="垃圾分类")
    ServiceCategory.objects.filter(name="旅游服务").update(is_active=False)
    path = write_register(
        tmp_path / "r.xlsx",
        [good_row(1, categories="垃圾分类"), good_row(2, categories="旅游服务")],
    )
    result = run(city, path)
    assert [(e.row, e.reason) for e in result.errors] == [(3, "服务类别“旅游服务”不存在")]


@pytest.mark.django_db
def test_another_worker_of_the_same_community_is_the_approver(city, tmp_path):
    colleague = UserFactory(username="colleague")
    grant(colleague, city.community_a, Role.WORKER)
    path = write_register(tmp_path / "r.xlsx", [good_row(1)])
    lines = cli_lines(city, path, user="colleague")
    assert lines[-1] == "imported 1, updated 0, rejected 0"
    assert Volunteer.objects.get().approved_by == colleague


def test_fixture_files_are_generated_not_committed():
    fixtures = Path(__file__).parent / "fixtures"
    assert not [p for p in fixtures.iterdir() if p.suffix in {".xlsx", ".xls"}]
