"""The register import pages: upload → preview → commit → result, the error report, tokens."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from huzhu.common.models import AuditEntry
from huzhu.orgs.roles import Role
from huzhu.people.models import Person
from huzhu.volunteers.models import Volunteer, VolunteerStatus
from tests.factories import UserFactory, grant, make_id_number
from tests.volunteers.fixtures import HEADER, row, write_register

ADULT = dt.date(1985, 3, 2)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def register_bytes(tmp_path, rows, name="名册.xlsx", **kwargs):
    path = write_register(tmp_path / name, rows, text_columns=[2], **kwargs)
    return path.read_bytes()


def good(n, **values):
    data = {"n": n, "name": "王建国", "id_number": make_id_number(ADULT), "phone": "13800001234"}
    data.update(values)
    return row(**data)


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def upload(client, org, content, name="名册.xlsx"):
    return client.post(
        reverse("volunteers:import"),
        {"org": org.pk, "file": SimpleUploadedFile(name, content)},
    )


def token_of(response):
    match = re.match(r"^/volunteers/import/([A-Za-z0-9_-]+)/$", response["Location"])
    assert match, response["Location"]
    return match.group(1)


@pytest.fixture
def mixed(tmp_path):
    """Rows 3 and 5 are good, row 4 has a 10-digit phone (a title row sits on top)."""
    return register_bytes(
        tmp_path,
        [good(1), good(2, name="李四", phone="1380000123"), good(3, name="赵六")],
        titles=[["甲社区志愿者名册"]],
    )


@pytest.mark.django_db
def test_upload_page_offers_only_orgs_in_scope(city):
    response = client_for(city.worker_a).get(reverse("volunteers:import"))
    assert response.status_code == 200
    body = response.content.decode()
    options = re.findall(r'<option value="(\d+)"', body)
    assert sorted(int(o) for o in options) == sorted([city.community_a.pk, city.grid_a.pk])
    assert "乙社区" not in body
    assert "公民身份号码" in body  # the column variants are listed


@pytest.mark.django_db
def test_upload_needs_login_and_volunteer_manage(city):
    response = Client().get(reverse("volunteers:import"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    supervisor = UserFactory(username="supervisor")
    grant(supervisor, city.community_a, Role.SUPERVISOR)
    assert client_for(supervisor).get(reverse("volunteers:import")).status_code == 403


@pytest.mark.django_db
def test_upload_for_an_org_outside_scope_is_refused(city, tmp_path, mixed):
    response = upload(client_for(city.worker_a), city.community_b, mixed)
    assert response.status_code == 200
    assert "选择一个有效的选项" in response.content.decode()
    assert not (tmp_path / "media" / "imports").exists() or not list(
        (tmp_path / "media" / "imports").iterdir()
    )


@pytest.mark.django_db
def test_upload_of_a_file_that_is_not_excel_shows_the_reason(city, media):
    response = upload(client_for(city.worker_a), city.community_a, b"name,id\n", name="a.csv")
    assert response.status_code == 200
    assert "文件不是Excel工作簿（.xlsx）：请选择用Excel保存的.xlsx文件" in response.content.decode()
    assert list((media / "imports").iterdir()) == []


@pytest.mark.django_db
def test_upload_preview_commit_result(city, media, mixed):
    client = client_for(city.worker_a)
    response = upload(client, city.community_a, mixed)
    assert response.status_code == 302
    token = token_of(response)
    assert (media / "imports" / f"{token}.xlsx").read_bytes() == mixed
    state = json.loads((media / "imports" / f"{token}.json").read_text(encoding="utf-8"))
    assert state["user_id"] == city.worker_a.pk
    assert Person.objects.count() == 0  # the preview is a dry run

    preview = client.get(reverse("volunteers:import_preview", kwargs={"token": token}))
    assert preview.status_code == 200
    body = preview.content.decode()
    assert re.search(r'data-count="valid">2<', body)
    assert re.search(r'data-count="invalid">1<', body)
    assert "其中新增 2 人，更新 0 人，无变化 0 人" in body
    assert '<tr data-row="3">' in body and '<tr data-row="5">' in body
    assert "第4行" in body and "手机号码" in body and "手机号应为以1开头的11位数字" in body
    assert "导入有效行" in body and "严格模式导入" in body and "下载错误报告" in body
    assert "3701**********" in body  # masked IDs only
    assert re.findall(r"\d{17}[\dX]", body) == []  # no full ID number on the page

    commit_url = reverse("volunteers:import_commit", kwargs={"token": token})
    response = client.post(commit_url, {"mode": "valid"})
    assert response.status_code == 302
    assert response["Location"] == f"/volunteers/import/{token}/"
    assert Volunteer.objects.count() == 2
    volunteer = Volunteer.objects.first()
    assert (volunteer.status, volunteer.approved_by) == (VolunteerStatus.REGISTERED, city.worker_a)
    result = client.get(response["Location"])
    body = result.content.decode()
    assert "导入结果" in body
    assert re.search(r'data-count="imported">2<', body)
    assert re.search(r'data-count="updated">0<', body)
    assert re.search(r'data-count="rejected">1<', body)
    assert "已导入：新增 2 人，更新 0 人，错误 1 行" in body
    entry = AuditEntry.objects.get(verb="volunteer.import")
    assert (entry.data["file"], entry.data["imported"]) == ("名册.xlsx", 2)

    # a second commit of the same upload changes nothing
    client.post(commit_url, {"mode": "valid"})
    assert Volunteer.objects.count() == 2
    assert AuditEntry.objects.filter(verb="volunteer.import").count() == 1


@pytest.mark.django_db
def test_strict_commit_with_bad_rows_imports_nothing_then_valid_rows_can_be_imported(city, mixed):
    client = client_for(city.worker_a)
    token = token_of(upload(client, city.community_a, mixed))
    commit_url = reverse("volunteers:import_commit", kwargs={"token": token})
    response = client.post(commit_url, {"mode": "strict"}, follow=True)
    body = response.content.decode()
    assert "严格模式：发现 1 行错误，未导入任何数据" in body
    assert 'data-testid="strict-failed"' in body
    assert Volunteer.objects.count() == 0
    client.post(commit_url, {"mode": "valid"})
    assert Volunteer.objects.count() == 2


@pytest.mark.django_db
def test_error_report_download(city, mixed):
    client = client_for(city.worker_a)
    token = token_of(upload(client, city.community_a, mixed))
    response = client.get(reverse("volunteers:import_report", kwargs={"token": token}))
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in response["Content-Disposition"]
    content = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(content)).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][0].startswith("导入错误报告：名册.xlsx → 甲社区；导出人：worker-a；")
    assert values[1] == [*HEADER, "错误原因"]
    assert values[2][1:4][0] == "李四"
    assert values[2][3] == "1380000123"
    assert values[2][-1] == "手机号码：手机号应为以1开头的11位数字"
    assert len(values) == 3
    entry = AuditEntry.objects.get(verb="volunteer.import_report")
    assert entry.data == {"file": "名册.xlsx", "rows": 1}


@pytest.mark.django_db
def test_tokens_belong_to_their_uploader(city, mixed):
    owner = client_for(city.worker_a)
    token = token_of(upload(owner, city.community_a, mixed))
    colleague = UserFactory(username="colleague-a")
    grant(colleague, city.community_a, Role.WORKER)
    urls = [
        ("get", reverse("volunteers:import_preview", kwargs={"token": token})),
        ("get", reverse("volunteers:import_report", kwargs={"token": token})),
        ("post", reverse("volunteers:import_commit", kwargs={"token": token})),
    ]
    for user in (colleague, city.worker_b):
        other = client_for(user)
        for method, url in urls:
            response = getattr(other, method)(url, {"mode": "valid"} if method == "post" else {})
            assert response.status_code == 404, (user, url)
    # even with the owner's session key copied into another user's session
    other = client_for(colleague)
    session = other.session
    session["volunteer_imports"] = [token]
    session.save()
    for method, url in urls:
        response = getattr(other, method)(url, {"mode": "valid"} if method == "post" else {})
        assert response.status_code == 404
    assert Volunteer.objects.count() == 0
    # unknown and malformed tokens
    for bad in ("x" * 32, "../../etc", "a"):
        response = owner.get(f"/volunteers/import/{bad}/")
        assert response.status_code == 404
    assert owner.get(urls[0][1]).status_code == 200


@pytest.mark.django_db
def test_commit_and_report_refuse_get_and_post_respectively(city, mixed):
    client = client_for(city.worker_a)
    token = token_of(upload(client, city.community_a, mixed))
    assert client.get(reverse("volunteers:import_commit", kwargs={"token": token})).status_code == (
        405
    )
    assert client.post(
        reverse("volunteers:import_report", kwargs={"token": token})
    ).status_code == (405)


@pytest.mark.django_db
def test_reimport_through_the_page_reports_unchanged(city, tmp_path):
    content = register_bytes(tmp_path, [good(1), good(2)])
    client = client_for(city.worker_a)
    for expected in (
        "其中新增 2 人，更新 0 人，无变化 0 人",
        "其中新增 0 人，更新 0 人，无变化 2 人",
    ):
        token = token_of(upload(client, city.community_a, content))
        body = client.get(f"/volunteers/import/{token}/").content.decode()
        assert expected in body
        client.post(reverse("volunteers:import_commit", kwargs={"token": token}), {"mode": "valid"})
    assert Volunteer.objects.count() == 2
