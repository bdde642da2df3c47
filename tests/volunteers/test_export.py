"""Excel export of the volunteer register: the web export and ``huzhu export-volunteers``."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from huzhu.cli import main as huzhu_main
from huzhu.common.models import AuditEntry
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.volunteers.availability import to_mask
from huzhu.volunteers.exports import HEADERS, resolve_org, write_volunteers_xlsx
from huzhu.volunteers.models import (
    RegistrationSource,
    ServiceCategory,
    Skill,
    Volunteer,
    VolunteerStatus,
)
from huzhu.volunteers.services import RegistrationInput, volunteer_register
from tests.factories import UserFactory, grant, make_id_number, make_org

pytestmark = pytest.mark.django_db

SYSTEM = Scope(user_id=0, is_superuser=True)


def register(org, name: str, phone: str = "", **data) -> Volunteer:
    return volunteer_register(
        actor=None,
        scope=SYSTEM,
        org=org,
        data=RegistrationInput(
            name=name, id_number=make_id_number(dt.date(1980, 6, 1)), phone=phone, **data
        ),
    ).volunteer


@pytest.fixture
def volunteers(city) -> dict[str, Volunteer]:
    doctor = register(
        city.grid_a,
        "张医生",
        phone="13800001234",
        skills=["医疗", "急救"],
        categories=[ServiceCategory.objects.get(name="卫生健康")],
        availability=to_mask(["sat_am", "sat_pm", "sat_eve"]),
        historical_minutes=90,
    )
    fixer = register(city.community_a, "李师傅", skills=["维修"])
    other = register(city.grid_b, "赵护士", skills=["医疗"])
    return {"doctor": doctor, "fixer": fixer, "other": other}


def read(content: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_worker_export_of_the_filter_is_watermarked_full_and_audited(city, volunteers):
    response = client_for(city.worker_a).get(
        reverse("volunteers:export"), {"skill": Skill.objects.get(name="医疗").pk}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in response["Content-Disposition"]
    rows = read(body(response))
    assert rows[0][0].startswith("导出人：worker-a 时间：")
    assert rows[0][0].endswith("（含完整证件号码，严禁外传）")
    assert rows[1] == list(HEADERS)
    doctor = volunteers["doctor"]
    assert rows[2:] == [
        [
            doctor.number,
            "张医生",
            "男",
            doctor.person.age,
            doctor.person.id_number,  # a worker may reveal numbers in their community
            "13800001234",
            "甲社区第一网格",
            "已注册",
            "群众",
            "医疗、急救",
            "卫生健康",
            None,
            "周六全天",
            0,
            1.5,
            1.5,
            rows[2][16],
        ]
    ]
    entry = AuditEntry.objects.get(verb="volunteer.export")
    assert (entry.actor, entry.org) == (city.worker_a, city.community_a)
    assert entry.data == {"filter": "技能：医疗", "rows": 1, "masked": False}


def test_a_large_export_is_streamed_from_disk(city, volunteers, monkeypatch):
    from huzhu.volunteers import views

    monkeypatch.setattr(views, "EXPORT_IN_MEMORY_BYTES", 0)
    response = client_for(city.worker_a).get(reverse("volunteers:export"))
    assert response.streaming
    assert [r[1] for r in read(body(response))[2:]] == ["张医生", "李师傅"]


def test_export_is_masked_for_a_role_that_may_not_reveal(city, volunteers):
    supervisor = UserFactory(username="supervisor")
    grant(supervisor, city.street, Role.SUPERVISOR)
    response = client_for(supervisor).get(reverse("volunteers:export"), {"sort": "name"})
    rows = read(body(response))
    assert rows[0][0].startswith("导出人：supervisor 时间：")
    assert rows[0][0].endswith("（证件号码已脱敏）")
    assert [(r[1], r[4], r[5]) for r in rows[2:]] == [
        (
            "李师傅",
            volunteers["fixer"].person.id_number_masked,
            volunteers["fixer"].person.phone_masked or None,
        ),
        ("张医生", volunteers["doctor"].person.id_number_masked, "138****1234"),
        ("赵护士", volunteers["other"].person.id_number_masked, None),
    ]
    assert volunteers["doctor"].person.id_number not in str(rows)
    entry = AuditEntry.objects.get(verb="volunteer.export")
    assert (entry.actor, entry.org) == (supervisor, city.street)
    assert entry.data == {"filter": "全部", "rows": 3, "masked": True}


def test_export_masks_when_one_row_is_outside_the_reveal_scope(city, volunteers):
    """A street worker who may reveal numbers only in community A, but sees the street."""
    user = UserFactory(username="mixed")
    grant(user, city.street, Role.SUPERVISOR)
    grant(user, city.community_a, Role.WORKER)
    client = client_for(user)
    everything = read(body(client.get(reverse("volunteers:export"))))
    assert len(everything) == 5 and everything[0][0].endswith("（证件号码已脱敏）")
    only_a = client.get(reverse("volunteers:export"), {"org": city.community_a.pk})
    rows = read(body(only_a))
    assert rows[0][0].endswith("（含完整证件号码，严禁外传）")
    assert {r[4] for r in rows[2:]} == {
        volunteers["doctor"].person.id_number,
        volunteers["fixer"].person.id_number,
    }


def test_export_with_a_full_number_in_the_query_is_refused(city, volunteers):
    response = client_for(city.worker_a).get(reverse("volunteers:export"), {"q": "13800001234"})
    assert response.status_code == 302
    assert "13800001234" not in response["Location"]
    assert not AuditEntry.objects.filter(verb="volunteer.export").exists()


def test_empty_export_carries_no_personal_data_and_no_audit(city):
    response = client_for(city.worker_b).get(reverse("volunteers:export"))
    rows = read(body(response))
    assert rows[1:] == [list(HEADERS)]
    assert not AuditEntry.objects.filter(verb="volunteer.export").exists()


def test_a_name_that_looks_like_a_formula_stays_text(city):
    register(city.grid_a, "=HYPERLINK(1)")
    stream = io.BytesIO()
    count = write_volunteers_xlsx(
        Volunteer.objects.all(), reveal=False, exported_by="tester", stream=stream
    )
    assert count == 1
    stream.seek(0)
    sheet = load_workbook(stream).active
    assert sheet["B3"].value == "=HYPERLINK(1)"
    assert sheet["B3"].data_type == "s"
    assert sheet.oddFooter.center.text.startswith("导出人：tester 时间：")


# --- the command ------------------------------------------------------------------------


def test_resolve_org_by_id_code_or_name(city):
    assert resolve_org(str(city.community_a.pk)) == city.community_a
    assert resolve_org("370102001001") == city.community_a
    assert resolve_org("370102") == city.district
    assert resolve_org(" 甲社区 ") == city.community_a
    with pytest.raises(CommandError, match="找不到组织：不存在的社区"):
        resolve_org("不存在的社区")
    with pytest.raises(CommandError, match="找不到组织：999999999"):
        resolve_org("999999999")
    twin = make_org(OrgKind.COMMUNITY, "甲社区", city.district)
    with pytest.raises(CommandError) as caught:
        resolve_org("甲社区")
    assert str(caught.value) == (
        "组织名称“甲社区”不唯一，请改用组织编号或区划代码。"
        f"候选：{city.community_a.pk} 解放路街道 / 甲社区；{twin.pk} 历下区 / 甲社区"
    )


def test_cli_export_masked_by_default_and_audited_as_system(city, volunteers, tmp_path):
    out = tmp_path / "甲社区.xlsx"
    stdout = io.StringIO()
    call_command("export_volunteers", org="370102001001", out=str(out), stdout=stdout)
    assert stdout.getvalue().strip() == f"已导出 2 名志愿者到 {out}（证件号码已脱敏）"
    rows = read(out.read_bytes())
    assert rows[0][0].startswith("导出人：系统 时间：")
    assert sorted(r[1] for r in rows[2:]) == ["张医生", "李师傅"]
    assert volunteers["doctor"].person.id_number_masked in [r[4] for r in rows[2:]]
    entry = AuditEntry.objects.get(verb="volunteer.export")
    assert (entry.actor, entry.actor_label, entry.org) == (None, "系统", city.community_a)
    assert entry.data == {
        "filter": f"组织：甲社区（{city.community_a.pk}）（命令行导出）",
        "rows": 2,
        "masked": True,
    }


def test_cli_export_as_a_user_who_may_reveal(city, volunteers, tmp_path):
    out = tmp_path / "a.xlsx"
    call_command(
        "export_volunteers",
        org="甲社区",
        out=str(out),
        user="worker-a",
        status="已注册",
        stdout=io.StringIO(),
    )
    rows = read(out.read_bytes())
    assert rows[0][0].startswith("导出人：worker-a 时间：")
    assert {r[4] for r in rows[2:]} == {
        volunteers["doctor"].person.id_number,
        volunteers["fixer"].person.id_number,
    }
    entry = AuditEntry.objects.get(verb="volunteer.export")
    assert entry.actor == city.worker_a and entry.data["masked"] is False


def test_cli_export_status_filter_and_user_without_reveal_on_org(city, volunteers, tmp_path):
    volunteer_register(
        actor=None,
        scope=SYSTEM,
        org=city.grid_a,
        data=RegistrationInput(name="孙阿姨", id_number=make_id_number(dt.date(1970, 1, 1))),
        source=RegistrationSource.SELF,
    )
    out = tmp_path / "pending.xlsx"
    # sees the street, may reveal only in community A: masked
    user = UserFactory(username="mixed")
    grant(user, city.street, Role.SUPERVISOR)
    grant(user, city.community_a, Role.WORKER)
    call_command(
        "export_volunteers",
        org=str(city.street.pk),
        out=str(out),
        user="mixed",
        status=VolunteerStatus.PENDING,
        stdout=io.StringIO(),
    )
    rows = read(out.read_bytes())
    assert [r[1] for r in rows[2:]] == ["孙阿姨"]
    assert rows[0][0].endswith("（证件号码已脱敏）")


def test_cli_export_errors(city, tmp_path):
    out = str(tmp_path / "x.xlsx")
    with pytest.raises(CommandError, match="找不到组织：火星社区"):
        call_command("export_volunteers", org="火星社区", out=out)
    with pytest.raises(CommandError, match="未知的状态：弃用"):
        call_command("export_volunteers", org="甲社区", out=out, status="弃用")
    with pytest.raises(CommandError, match="用户 nobody 不存在"):
        call_command("export_volunteers", org="甲社区", out=out, user="nobody")
    with pytest.raises(CommandError, match="用户 worker-b 没有查看“甲社区”志愿者的权限"):
        call_command("export_volunteers", org="甲社区", out=out, user="worker-b")
    with pytest.raises(CommandError, match=r"输出文件须以 \.xlsx 结尾"):
        call_command("export_volunteers", org="甲社区", out=str(tmp_path / "x.csv"))
    assert list(tmp_path.iterdir()) == []
    assert not AuditEntry.objects.filter(verb="volunteer.export").exists()


def test_huzhu_console_script_exits_1_on_unknown_org(city, tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        huzhu_main(
            ["huzhu", "export-volunteers", "--org", "火星社区", "--out", str(tmp_path / "x.xlsx")]
        )
    assert caught.value.code == 1
    assert "找不到组织：火星社区" in capsys.readouterr().err
