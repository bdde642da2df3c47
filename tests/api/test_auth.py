"""Tokens (the ``huzhu token`` command, hashing, expiry, revocation) and session access."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from huzhu.api.models import ApiToken
from huzhu.api.services import api_token_authenticate, api_token_create
from huzhu.cli import main
from huzhu.common.models import AuditEntry
from tests.factories import make_person

TOKEN_RE = re.compile(r"^hz_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")
NO_AUTH = "未登录：请在请求头中提供 Authorization: Bearer <令牌>"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- the command ----------------------------------------------------------------------


def test_token_create_prints_token_once_and_stores_only_its_hash(city):
    out, err = run("create", "worker-a", "--name", "看板同步", "--expires-days", "30")
    raw = out.strip()
    match = TOKEN_RE.match(raw)
    assert match, raw
    token = ApiToken.objects.get()
    assert token.user == city.worker_a
    assert token.name == "看板同步"
    assert token.prefix == match.group(1)
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.revoked_at is None
    assert (
        dt.timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= dt.timedelta(days=30)
    )
    secret = raw.split("_", 2)[2]
    stored = [str(v) for v in ApiToken.objects.values_list(flat=False).get()]
    assert not any(raw in v or secret in v for v in stored)
    assert f"已为 worker-a 创建令牌 hz_{token.prefix}" in err
    assert "令牌只显示这一次" in err
    assert raw not in err
    entry = AuditEntry.objects.get(verb="api_token.create")
    assert entry.actor_label == "命令行"
    assert entry.data["prefix"] == token.prefix
    assert secret not in str(entry.data)


def test_token_works_as_bearer(city):
    raw = run("create", "worker-a")[0].strip()
    response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "worker-a"


def test_token_create_for_unknown_user_fails_in_chinese(city):
    with pytest.raises(CommandError, match=r"^用户 nobody 不存在$"):
        run("create", "nobody")
    assert ApiToken.objects.count() == 0


def test_cli_exits_non_zero_for_unknown_user(city, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["huzhu", "token", "create", "nobody"])
    assert exit_info.value.code == 1
    assert "用户 nobody 不存在" in capsys.readouterr().err


def test_token_create_refuses_bad_expiry(city):
    with pytest.raises(CommandError, match=r"^有效天数应在1到3650之间$"):
        run("create", "worker-a", "--expires-days", "0")
    assert ApiToken.objects.count() == 0


def test_token_list_and_revoke(city):
    first = run("create", "worker-a", "--name", "甲")[0].strip()
    run("create", "worker-a", "--name", "乙")
    prefix = TOKEN_RE.match(first).group(1)

    out, _ = run("revoke", f"hz_{prefix}")
    assert out.startswith(f"已吊销令牌 hz_{prefix}（worker-a，")
    assert ApiToken.objects.get(prefix=prefix).revoked_at is not None
    assert AuditEntry.objects.filter(verb="api_token.revoke").count() == 1

    out, _ = run("revoke", prefix)  # again: nothing changes, no second audit entry
    assert AuditEntry.objects.filter(verb="api_token.revoke").count() == 1

    out, _ = run("list", "worker-a")
    lines = out.strip().splitlines()
    assert lines[0] == "前缀\t状态\t用途\t创建时间\t最近使用\t过期时间"
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert len(rows) == 2
    assert rows[f"hz_{prefix}"][1:3] == ["已吊销", "甲"]
    assert first not in out

    response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {first}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "令牌已吊销"}


def test_token_revoke_unknown_prefix(city):
    with pytest.raises(CommandError, match=r"^未找到前缀为 deadbeef 的令牌$"):
        run("revoke", "deadbeef")


def test_token_list_unknown_user(city):
    with pytest.raises(CommandError, match=r"^用户 nobody 不存在$"):
        run("list", "nobody")


# --- refusals: always 401 JSON, never 500 ------------------------------------------------


def _get(auth: str | None, path: str = "/api/v1/orgs") -> tuple[int, dict]:
    headers = {"Authorization": auth} if auth is not None else {}
    response = Client().get(path, headers=headers)
    return response.status_code, response.json()


def test_missing_auth_is_401(city):
    assert _get(None) == (401, {"detail": NO_AUTH})
    assert _get(None, f"/api/v1/orgs/{city.community_a.pk}") == (401, {"detail": NO_AUTH})
    response = Client().get("/api/v1/me")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "auth",
    [
        "Bearer hz_0123abcd_" + "A" * 43,  # well-formed, unknown
        "Bearer hz_0123abcd",  # no secret
        "Bearer abc",
        "Bearer " + "x" * 5000,
        "Bearer hz_0123abcd_\u4e2d\u6587",
    ],
)
def test_forged_token_is_401(city, auth):
    assert _get(auth) == (401, {"detail": "令牌无效"})


def test_other_schemes_count_as_missing_auth(city):
    assert _get("Basic d29ya2VyLWE6cHc=") == (401, {"detail": NO_AUTH})
    assert _get("") == (401, {"detail": NO_AUTH})


def test_token_with_tampered_secret_is_401(city):
    _, raw = api_token_create(actor=None, user=city.worker_a)
    tampered = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    assert _get(f"Bearer {tampered}") == (401, {"detail": "令牌无效"})
    assert _get(f"Bearer {raw}")[0] == 200


def test_expired_token_is_401(city):
    token, raw = api_token_create(actor=None, user=city.worker_a, expires_days=1)
    assert _get(f"Bearer {raw}")[0] == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert _get(f"Bearer {raw}") == (401, {"detail": "令牌已过期"})


def test_revoked_token_is_401(city):
    token, raw = api_token_create(actor=None, user=city.worker_a)
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert _get(f"Bearer {raw}") == (401, {"detail": "令牌已吊销"})


def test_token_of_deactivated_user_is_401(city):
    _, raw = api_token_create(actor=None, user=city.worker_a)
    city.worker_a.is_active = False
    city.worker_a.save()
    assert _get(f"Bearer {raw}") == (401, {"detail": "令牌所属用户已停用"})


def test_bad_token_is_not_rescued_by_a_session(city):
    client = Client(headers={"Authorization": "Bearer hz_0123abcd_" + "A" * 43})
    client.force_login(city.worker_a)
    response = client.get("/api/v1/orgs")
    assert response.status_code == 401
    assert response.json() == {"detail": "令牌无效"}


def test_last_used_at_is_written_at_most_once_a_minute(city):
    token, raw = api_token_create(actor=None, user=city.worker_a)
    assert token.last_used_at is None
    first = api_token_authenticate(raw=raw).last_used_at
    assert first is not None
    assert api_token_authenticate(raw=raw).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - dt.timedelta(minutes=2))
    later = api_token_authenticate(raw=raw).last_used_at
    assert later > first - dt.timedelta(minutes=2)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == later


def test_token_sets_scope_of_its_user(city, client_b):
    response = client_b.get("/api/v1/me")
    assert response.json()["roles"] == [
        {"role": "worker", "role_label": "社区工作者", "org_id": city.community_b.pk}
    ]


# --- the browser session ---------------------------------------------------------------


def test_session_reads_without_csrf(city):
    client = Client(enforce_csrf_checks=True)
    client.force_login(city.worker_a)
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "worker-a"


def test_session_writes_need_csrf(city):
    client = Client(enforce_csrf_checks=True)
    client.force_login(city.worker_a)
    url = f"/api/v1/orgs/{city.community_a.pk}"
    response = client.patch(url, {"address": "经十路1号"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF校验失败：请刷新页面后重试，或改用令牌访问"}

    client.get("/api/v1/docs")  # any page that renders {% csrf_token %} sets the cookie
    csrf = client.cookies["csrftoken"].value
    response = client.patch(
        f"/api/v1/people/{_person(city).pk}",
        {"address": "经十路1号"},
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 200
    assert response.json()["address"] == "经十路1号"


def test_anonymous_write_is_401_not_csrf_403(city):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/people", "{}", content_type="application/json")
    assert response.status_code == 401
    assert response.json() == {"detail": NO_AUTH}


def test_token_writes_need_no_csrf(city):
    _, raw = api_token_create(actor=None, user=city.worker_a)
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {raw}"})
    response = client.patch(
        f"/api/v1/people/{_person(city).pk}",
        {"address": "经十路2号"},
        content_type="application/json",
    )
    assert response.status_code == 200


def _person(city):
    return make_person(city.grid_a, "王五")
