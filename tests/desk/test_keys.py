"""Open311 application keys: issued by an administrator over their subtree (plaintext shown
once, only a hash stored), resolved when presented, revoked at once — through the services,
the 应用密钥 pages and ``huzhu open311-key``."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.http import Http404
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from huzhu.cli import main
from huzhu.common.models import AuditEntry
from huzhu.desk.key_services import (
    appkey_authenticate,
    appkey_issue,
    appkey_list,
    appkey_revoke,
)
from huzhu.desk.models import AppKey
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from tests.factories import City, UserFactory, grant, make_org

pytestmark = pytest.mark.django_db

KEY_RE = re.compile(r"^o311_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")
KEYS = reverse("desk:keys")
NEW = reverse("desk:key_new")


@pytest.fixture
def admin(city: City):
    user = UserFactory(username="street-admin")
    grant(user, city.street, Role.ADMIN)
    return user


def issue(user, org, name: str = "街道小程序") -> tuple[AppKey, str]:
    return appkey_issue(actor=user, scope=Scope.for_user(user), org=org, name=name)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- services ------------------------------------------------------------------------------


def test_issue_returns_the_key_once_and_stores_only_its_hash(city, admin):
    key, raw = issue(admin, city.street)
    match = KEY_RE.match(raw)
    assert match, raw
    assert key.prefix == match.group(1)
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert key.org == city.street and key.created_by == admin and key.name == "街道小程序"
    assert raw not in str(AppKey.objects.values_list().get())
    entry = AuditEntry.objects.get(verb="desk.appkey.issue")
    assert entry.actor == admin and entry.org == city.street
    assert entry.data == {"name": "街道小程序", "prefix": key.prefix}
    assert raw not in str(entry.data)


def test_only_an_admin_over_the_org_may_issue(city, admin):
    with pytest.raises(PermissionDenied):
        issue(city.worker_a, city.community_a)  # a worker is not an admin
    with pytest.raises(PermissionDenied):
        issue(admin, city.district)  # above the admin's street
    assert issue(admin, city.community_a)[0].org == city.community_a
    assert AppKey.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "field", "message"),
    [
        ("", "name", "请填写应用名称。"),
        ("x" * 101, "name", "应用名称不能超过 100 字。"),
        ("<b>app</b>", "name", "不能包含 HTML 标记或脚本，请只填写文字。"),
    ],
)
def test_issue_refuses_a_bad_name(city, admin, name, field, message):
    with pytest.raises(ValidationError) as caught:
        issue(admin, city.street, name)
    assert caught.value.message_dict == {field: [message]}
    assert AppKey.objects.count() == 0


def test_keys_go_only_to_cities_districts_streets_and_communities(city, admin):
    with pytest.raises(ValidationError) as caught:
        issue(admin, city.grid_a)
    assert caught.value.message_dict == {"org": ["应用密钥只能签发给市、区、街道或社区。"]}


def test_authenticate_accepts_the_live_key_only(city, admin):
    key, raw = issue(admin, city.street)
    assert appkey_authenticate(raw=raw) == key
    assert AppKey.objects.get().last_used_at is not None
    prefix = key.prefix
    for wrong in (
        "",
        "o311_",
        raw[:-1] + ("A" if raw[-1] != "A" else "B"),
        f"o311_{prefix}",
        raw.replace("o311_", "hz_"),
        f" {raw} ".replace(prefix, "00000000"),
    ):
        assert appkey_authenticate(raw=wrong) is None, wrong
    appkey_revoke(actor=admin, scope=Scope.for_user(admin), key_id=key.pk)
    assert appkey_authenticate(raw=raw) is None


def test_last_used_is_written_at_most_once_a_minute(city, admin):
    _key, raw = issue(admin, city.street)
    appkey_authenticate(raw=raw)
    first = AppKey.objects.get().last_used_at
    appkey_authenticate(raw=raw)
    assert AppKey.objects.get().last_used_at == first
    stale = timezone.now() - dt.timedelta(minutes=2)
    AppKey.objects.update(last_used_at=stale)
    appkey_authenticate(raw=raw)
    assert AppKey.objects.get().last_used_at >= stale + dt.timedelta(minutes=2)


def test_revoke_is_scoped_and_idempotent(city, admin):
    key, _raw = issue(admin, city.community_a)
    other = UserFactory(username="other-admin")
    other_street = make_org(OrgKind.STREET, "另一街道", city.district)
    grant(other, other_street, Role.ADMIN)
    with pytest.raises(Http404):
        appkey_revoke(actor=other, scope=Scope.for_user(other), key_id=key.pk)
    with pytest.raises(Http404):
        appkey_revoke(actor=city.worker_a, scope=Scope.for_user(city.worker_a), key_id=key.pk)
    assert AppKey.objects.get().revoked_at is None
    revoked = appkey_revoke(actor=admin, scope=Scope.for_user(admin), key_id=key.pk)
    when = revoked.revoked_at
    assert when is not None
    again = appkey_revoke(actor=admin, scope=Scope.for_user(admin), key_id=key.pk)
    assert again.revoked_at == when
    assert AuditEntry.objects.filter(verb="desk.appkey.revoke").count() == 1


def test_list_shows_the_admins_subtree(city, admin):
    mine, _ = issue(admin, city.community_a, "甲社区")
    district_admin = UserFactory(username="district-admin")
    grant(district_admin, city.district, Role.ADMIN)
    theirs, _ = issue(district_admin, city.district, "区级")
    assert list(appkey_list(scope=Scope.for_user(admin))) == [mine]
    assert list(appkey_list(scope=Scope.for_user(district_admin))) == [theirs, mine]
    assert list(appkey_list(scope=Scope.for_user(city.worker_a))) == []


# --- pages ---------------------------------------------------------------------------------


def test_admin_issues_a_key_on_the_page_and_sees_it_once(city, admin):
    client = signed_in(admin)
    page = client.get(NEW)
    assert page.status_code == 200
    options = page.content.decode()
    assert "解放路街道（街道/镇）" in options and "甲社区（社区）" in options
    assert "甲社区第一网格" not in options  # grids take no keys
    response = client.post(NEW, {"org": city.street.pk, "name": "街道小程序"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    raw = re.search(r'data-testid="key-plaintext">([^<]+)<', text).group(1)
    assert KEY_RE.match(raw)
    assert appkey_authenticate(raw=raw).name == "街道小程序"
    listing = client.get(KEYS).content.decode()
    assert "街道小程序" in listing and f"o311_{raw.split('_')[1]}…" in listing
    assert raw not in listing


def test_a_bad_form_is_400_and_issues_nothing(city, admin):
    client = signed_in(admin)
    response = client.post(NEW, {"org": city.street.pk, "name": "<script>x</script>"})
    assert response.status_code == 400
    assert "不能包含 HTML 标记或脚本，请只填写文字。" in response.content.decode()
    response = client.post(NEW, {"org": city.district.pk, "name": "区级"})  # not theirs
    assert response.status_code == 400
    assert AppKey.objects.count() == 0


def test_pages_are_for_admins_only(city, admin):
    worker = signed_in(city.worker_a)
    assert worker.get(KEYS).status_code == 403
    assert worker.get(NEW).status_code == 403
    anonymous = Client().get(KEYS)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_revoke_on_the_page(city, admin):
    key, raw = issue(admin, city.street)
    url = reverse("desk:key_revoke", args=[key.pk])
    assert signed_in(admin).get(url).status_code == 405
    other = UserFactory(username="other-admin")
    grant(other, make_org(OrgKind.STREET, "另一街道", city.district), Role.ADMIN)
    assert signed_in(other).post(url).status_code == 404
    assert signed_in(city.worker_a).post(url).status_code == 404
    client = signed_in(admin)
    response = client.post(url, follow=True)
    assert response.redirect_chain == [(KEYS, 302)]
    assert f"已吊销应用密钥 o311_{key.prefix}…（街道小程序），该应用已不能再提交。" in (
        response.content.decode()
    )
    assert appkey_authenticate(raw=raw) is None
    assert 'data-testid="key-revoke"' not in response.content.decode()


def test_key_list_query_count_does_not_grow(city, admin):
    client = signed_in(admin)
    issue(admin, city.street)
    client.get(KEYS)  # warm the session and the page
    with CaptureQueriesContext(connection) as one:
        assert client.get(KEYS).status_code == 200
    for n in range(5):
        issue(admin, city.community_a, f"应用{n}")
    with CaptureQueriesContext(connection) as many:
        assert client.get(KEYS).status_code == 200
    assert len(many) == len(one)


# --- the command ---------------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("open311_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_creates_lists_and_revokes(city):
    out, err = run("create", "--org", str(city.street.pk), "--name", "街道小程序")
    raw = out.strip()
    assert KEY_RE.match(raw)
    key = AppKey.objects.get()
    assert f"编号 {key.pk}" in err and "只显示这一次" in err
    assert appkey_authenticate(raw=raw) == key
    assert AuditEntry.objects.get(verb="desk.appkey.issue").actor_label == "命令行"

    out, _ = run("list")
    lines = out.strip().splitlines()
    assert lines[0] == "编号\t密钥\t状态\t应用名称\t适用范围\t签发时间\t最近使用"
    assert lines[1].split("\t")[:5] == [
        str(key.pk),
        f"o311_{key.prefix}…",
        "有效",
        "街道小程序",
        "解放路街道",
    ]
    assert raw not in out
    out, _ = run("list", "--org", str(city.community_b.pk))
    assert out.strip() == "没有应用密钥"

    out, _ = run("revoke", str(key.pk))
    assert out.startswith(f"已吊销应用密钥 o311_{key.prefix}…（街道小程序，")
    assert appkey_authenticate(raw=raw) is None


def test_command_refusals(city):
    with pytest.raises(CommandError, match="组织 999999 不存在"):
        run("create", "--org", "999999", "--name", "x")
    with pytest.raises(CommandError, match="应用密钥只能签发给市、区、街道或社区。"):
        run("create", "--org", str(city.grid_a.pk), "--name", "x")
    with pytest.raises(CommandError, match="应用密钥 424242 不存在"):
        run("revoke", "424242")


def test_console_script_takes_the_hyphenated_name(city, capsys):
    # (The console script closes the database connection when it ends, so it is run on
    # a refusal here; the commands above are the same code through call_command.)
    with pytest.raises(SystemExit) as exit_info:
        main(["huzhu", "open311-key", "revoke", "424242"])
    assert exit_info.value.code == 1
    assert "应用密钥 424242 不存在" in capsys.readouterr().err
