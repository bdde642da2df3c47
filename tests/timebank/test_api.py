"""The time bank over the API: my account, an account's entries and summary, transfers with
idempotency keys and refusals that name the rule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huzhu.common.models import AuditEntry
from huzhu.timebank.models import Account, AccountKind, Entry, FamilyLink, Policy, Transfer
from huzhu.timebank.services import account_for_person, org_account
from tests.activities.clients import MISSING, post, token_client
from tests.activities.factories import enter_record, make_volunteer

pytestmark = pytest.mark.django_db

URL = "/api/v1/timebank"
YESTERDAY = timezone.localdate() - dt.timedelta(days=1)
User = get_user_model()


def member(org, name: str, username: str, minutes: int = 0, community=None):
    """A registered volunteer with a login, credited ``minutes`` by a confirmed service
    record of ``community`` (default: the org itself), and a token client acting as them."""
    volunteer = make_volunteer(org, name, username=username)
    if minutes:
        community = community or (org.parent if org.kind == "grid" else org)
        enter_record(volunteer, community, YESTERDAY, minutes=minutes)
    return volunteer.person, token_client(User.objects.get(username=username))


def balance(person) -> int:
    return Account.objects.get(person=person).balance


def family(person, relative, relation: str = "parent") -> FamilyLink:
    return FamilyLink.objects.create(
        person=person, relative=relative, relation=relation, verified_at=timezone.now()
    )


def ledger_state() -> tuple:
    return (
        tuple(Account.objects.order_by("pk").values_list("pk", "balance")),
        Transfer.objects.count(),
        Entry.objects.count(),
        AuditEntry.objects.filter(verb__startswith="timebank.").count(),
    )


def transfer(client: Client, **payload):
    body = {"kind": "family", "minutes": 30, "memo": "", "idempotency_key": "k-1", **payload}
    return post(client, f"{URL}/transfers", body)


# --- my account ---------------------------------------------------------------------------


def test_my_account_is_opened_on_first_call_with_the_rules_in_force(city):
    person, client = member(city.grid_a, "王一", "wang")
    assert not Account.objects.filter(person=person).exists()
    response = client.get(f"{URL}/accounts/me")
    assert response.status_code == 200
    account = Account.objects.get(person=person)
    assert account.org == city.community_a
    assert response.json() == {
        "id": account.pk,
        "kind": "person",
        "balance_minutes": 0,
        "balance_hours": "0",
        "credit_limit_minutes": 0,
        "rules": {
            "balance_cap_minutes": 1500 * 60,
            "min_redeem_age": 0,
            "family_includes_friends": False,
            "exchange_scope": "city",
            "expiry_months": 0,
        },
    }
    assert client.get(f"{URL}/accounts/me").json()["id"] == account.pk
    assert Account.objects.filter(person=person).count() == 1


def test_my_account_shows_balance_and_the_community_policy(city):
    Policy.objects.create(org=city.community_a, min_redeem_age=60, family_includes_friends=True)
    _person, client = member(city.grid_a, "王一", "wang", minutes=90)
    body = client.get(f"{URL}/accounts/me").json()
    assert (body["balance_minutes"], body["balance_hours"]) == (90, "1.5")
    assert body["rules"]["min_redeem_age"] == 60
    assert body["rules"]["family_includes_friends"] is True


def test_my_account_is_missing_for_a_user_without_a_resident_record(city):
    response = token_client(city.worker_a).get(f"{URL}/accounts/me")
    assert (response.status_code, response.json()) == (404, MISSING)
    assert not Account.objects.exists()


def test_every_route_needs_a_token(city):
    person, _client = member(city.grid_a, "王一", "wang", minutes=60)
    account = Account.objects.get(person=person)
    anonymous = Client()
    for url in (
        f"{URL}/accounts/me",
        f"{URL}/accounts/{account.pk}/entries",
        f"{URL}/accounts/{account.pk}/statement",
    ):
        assert anonymous.get(url).status_code == 401, url
    before = ledger_state()
    assert post(anonymous, f"{URL}/transfers", {"kind": "donate", "minutes": 1}).status_code == 401
    bad = Client(headers={"Authorization": "Bearer not-a-token"})
    assert bad.get(f"{URL}/accounts/me").status_code == 401
    assert ledger_state() == before


# --- entries ------------------------------------------------------------------------------


def test_entries_newest_first_with_running_balance_and_counterparty(city):
    person, client = member(city.grid_a, "王一", "wang", minutes=90)
    parent, _ = member(city.grid_a, "王老汉", "wang-sr")
    family(person, parent)
    assert transfer(client, to_person=parent.pk, minutes=30, memo="给爸爸").status_code == 201
    account = Account.objects.get(person=person)
    earn, gift = Transfer.objects.order_by("id")
    response = client.get(f"{URL}/accounts/{account.pk}/entries")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    first, second = body["items"]
    assert first == {
        "id": gift.entries.get(account=account).pk,
        "transfer_id": gift.pk,
        "kind": "family",
        "kind_label": "转赠家人",
        "memo": "给爸爸",
        "amount_minutes": -30,
        "balance_after_minutes": 60,
        "counterparty": "王**",
        "created_at": first["created_at"],
    }
    shown = dt.datetime.fromisoformat(first["created_at"])
    assert abs(shown - gift.created_at) < dt.timedelta(milliseconds=1)
    assert second == {
        "id": earn.entries.get(account=account).pk,
        "transfer_id": earn.pk,
        "kind": "earn",
        "kind_label": "服务入账",
        "memo": "服务入账",
        "amount_minutes": 90,
        "balance_after_minutes": 90,
        "counterparty": "甲社区（发行账户）",
        "created_at": second["created_at"],
    }
    paged = client.get(f"{URL}/accounts/{account.pk}/entries?limit=1&offset=1").json()
    assert (paged["count"], [e["id"] for e in paged["items"]]) == (2, [second["id"]])


def test_entries_of_someone_elses_account_are_missing(city):
    person, _ = member(city.grid_a, "王一", "wang", minutes=60)
    _other, other_client = member(city.grid_a, "李二", "li")
    account = Account.objects.get(person=person)
    issuance = Account.objects.get(kind=AccountKind.ISSUANCE)
    for url in (
        f"{URL}/accounts/{account.pk}/entries",
        f"{URL}/accounts/{account.pk}/statement",
        f"{URL}/accounts/{issuance.pk}/entries",
        f"{URL}/accounts/999999/entries",
    ):
        response = other_client.get(url)
        assert (response.status_code, response.json()) == (404, MISSING), url
    worker_b = token_client(city.worker_b)
    assert worker_b.get(f"{URL}/accounts/{account.pk}/entries").status_code == 404
    assert worker_b.get(f"{URL}/accounts/{account.pk}/statement").status_code == 404


def test_a_worker_reads_the_accounts_of_their_community(city):
    person, _ = member(city.grid_a, "王一", "wang", minutes=60)
    account = Account.objects.get(person=person)
    issuance = Account.objects.get(kind=AccountKind.ISSUANCE)
    worker = token_client(city.worker_a)
    mine = worker.get(f"{URL}/accounts/{account.pk}/entries").json()
    assert [(e["amount_minutes"], e["counterparty"]) for e in mine["items"]] == [
        (60, "甲社区（发行账户）")
    ]
    pool = worker.get(f"{URL}/accounts/{issuance.pk}/entries").json()
    assert [(e["amount_minutes"], e["counterparty"]) for e in pool["items"]] == [(-60, "王*")]


def _entries_queries(client: Client, account_id: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{URL}/accounts/{account_id}/entries")
    assert response.status_code == 200
    return len(queries)


def test_entries_take_the_same_number_of_queries_for_one_row_or_many(city):
    person, client = member(city.grid_a, "王一", "wang", minutes=60)
    account = Account.objects.get(person=person)
    _entries_queries(client, account.pk)  # warm up: the token's first use is recorded
    few = _entries_queries(client, account.pk)
    helpers = [member(city.grid_a, f"帮手{n}", f"helper-{n}")[0] for n in range(3)]
    for n, helper in enumerate(helpers):
        family(person, helper, "child")
        assert (
            transfer(client, to_person=helper.pk, minutes=5, idempotency_key=f"k{n}").status_code
            == 201
        )
    post(client, f"{URL}/transfers", {"kind": "donate", "minutes": 5, "idempotency_key": "d"})
    assert client.get(f"{URL}/accounts/{account.pk}/entries").json()["count"] == 5
    assert _entries_queries(client, account.pk) == few


# --- transfers ----------------------------------------------------------------------------


def test_transfer_to_family_and_its_replay(city):
    person, client = member(city.grid_a, "王一", "wang", minutes=120)
    parent, _ = member(city.grid_a, "王老汉", "wang-sr")
    family(parent, person, "child")  # declared by the parent: counts both ways
    response = transfer(client, to_person=parent.pk, minutes=45, memo="孝心")
    assert response.status_code == 201
    made = Transfer.objects.get(kind="family")
    source = Account.objects.get(person=person)
    target = Account.objects.get(person=parent)
    assert response.json() == {
        "id": made.pk,
        "kind": "family",
        "kind_label": "转赠家人",
        "minutes": 45,
        "from_account": source.pk,
        "to_account": target.pk,
        "memo": "孝心",
        "created_at": response.json()["created_at"],
        "replayed": False,
    }
    assert (balance(person), balance(parent)) == (75, 45)
    assert made.actor.username == "wang"
    before = ledger_state()
    again = transfer(client, to_person=parent.pk, minutes=45, memo="孝心")
    assert again.status_code == 200
    assert again.json() == {**response.json(), "replayed": True}
    assert ledger_state() == before


def test_a_replay_is_answered_even_when_the_rules_would_now_refuse(city):
    person, client = member(city.grid_a, "王一", "wang", minutes=30)
    parent, _ = member(city.grid_a, "王老汉", "wang-sr")
    link = family(person, parent)
    assert transfer(client, to_person=parent.pk, minutes=30).status_code == 201
    link.revoked_at = timezone.now()
    link.save(update_fields=["revoked_at"])
    again = transfer(client, to_person=parent.pk, minutes=30)
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert (balance(person), balance(parent)) == (0, 30)


def test_keys_belong_to_their_user(city):
    a, client_a = member(city.grid_a, "王一", "wang", minutes=60)
    b, client_b = member(city.grid_a, "李二", "li", minutes=60)
    first = post(
        client_a, f"{URL}/transfers", {"kind": "donate", "minutes": 10, "idempotency_key": "same"}
    )
    second = post(
        client_b, f"{URL}/transfers", {"kind": "donate", "minutes": 10, "idempotency_key": "same"}
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert (balance(a), balance(b)) == (50, 50)


def test_a_key_reused_for_another_transfer_is_refused(city):
    _person, client = member(city.grid_a, "王一", "wang", minutes=60)
    assert (
        post(
            client, f"{URL}/transfers", {"kind": "donate", "minutes": 10, "idempotency_key": "k"}
        ).status_code
        == 201
    )
    before = ledger_state()
    response = post(
        client, f"{URL}/transfers", {"kind": "donate", "minutes": 20, "idempotency_key": "k"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "field": "idempotency_key",
                "message": "该幂等键已用于另一笔交易，请为新交易使用新的幂等键",
            }
        ],
        "rule": "idempotency.mismatch",
    }
    assert ledger_state() == before


def test_donation_goes_to_the_community_pool_whatever_to_person_says(city):
    person, client = member(city.grid_a, "王一", "wang", minutes=60)
    other, _ = member(city.grid_b, "李二", "li")
    response = transfer(client, kind="donate", to_person=other.pk, minutes=25)
    assert response.status_code == 201
    pool = Account.objects.get(org=city.community_a, kind=AccountKind.POOL)
    assert (response.json()["to_account"], response.json()["memo"]) == (pool.pk, "捐赠给社区互助池")
    assert (balance(person), pool.balance) == (35, 25)
    assert not Account.objects.filter(person=other).exists()


def test_paying_a_volunteer_for_help(city):
    person, client = member(city.grid_a, "王一", "wang", minutes=60)
    helper, _ = member(city.grid_b, "李二", "li")
    response = transfer(client, kind="spend", to_person=helper.pk, minutes=40, memo="陪诊")
    assert response.status_code == 201
    assert (response.json()["kind"], response.json()["kind_label"]) == ("spend", "支付服务")
    assert (balance(person), balance(helper)) == (20, 40)
    assert AuditEntry.objects.filter(verb="timebank.spend").count() == 1


@pytest.mark.parametrize(
    ("setup", "payload", "rule", "field", "message"),
    [
        (
            "stranger",
            {"kind": "family", "minutes": 30},
            "transfer.relation",
            "to_person",
            "只能转赠给经社区核实的家庭成员（配偶、直系亲属）。",
        ),
        (
            "unknown",
            {"kind": "family", "minutes": 30},
            "transfer.relation",
            "to_person",
            "只能转赠给经社区核实的家庭成员（配偶、直系亲属）。",
        ),
        (
            "parent",
            {"kind": "family", "minutes": 90},
            "balance.insufficient",
            "minutes",
            "余额不足：账户“王一（个人账户）”余额 1 小时，本次需 1.5 小时。",
        ),
        (
            "self",
            {"kind": "spend", "minutes": 30},
            "transfer.self",
            "to_person",
            "不能转给自己",
        ),
        (
            "none",
            {"kind": "spend", "minutes": 30},
            "transfer.recipient",
            "to_person",
            "请填写收款居民（to_person）",
        ),
        (
            "unknown",
            {"kind": "spend", "minutes": 30},
            "spend.helper",
            "to_person",
            "服务提供者不存在",
        ),
        (
            "age",
            {"kind": "spend", "minutes": 30},
            "spend.age",
            "__all__",
            "年满 60 周岁方可兑换服务。",
        ),
        (
            "cap",
            {"kind": "family", "minutes": 30},
            "balance.cap",
            "minutes",
            "超过存储上限：账户最多可存 1 小时。",
        ),
    ],
)
def test_refusals_name_the_rule_and_change_nothing(city, setup, payload, rule, field, message):
    person, client = member(city.grid_a, "王一", "wang", minutes=60)
    parent, _ = member(city.grid_a, "王老汉", "wang-sr", minutes=60)
    to_person = {
        "stranger": parent.pk,
        "unknown": 999_999,
        "parent": parent.pk,
        "self": person.pk,
        "none": None,
        "age": parent.pk,
        "cap": parent.pk,
    }[setup]
    if setup in ("parent", "cap"):
        family(person, parent)
    if setup == "age":
        Policy.objects.create(org=city.community_a, min_redeem_age=60)
    if setup == "cap":
        Policy.objects.create(org=city.community_a, balance_cap_minutes=60)
    before = ledger_state()
    response = transfer(client, to_person=to_person, **payload)
    assert response.status_code == 422
    assert response.json() == {"detail": [{"field": field, "message": message}], "rule": rule}
    assert ledger_state() == before


def test_bad_input_is_a_422_on_the_field(city):
    _person, client = member(city.grid_a, "王一", "wang", minutes=60)
    before = ledger_state()
    cases = [
        ({"minutes": 0}, "minutes"),
        ({"minutes": 600_001}, "minutes"),
        ({"kind": "earn"}, "kind"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "k" * 65}, "idempotency_key"),
        ({"to_person": 0}, "to_person"),
    ]
    for change, field in cases:
        response = transfer(client, **{"to_person": 1, **change})
        assert response.status_code == 422, change
        assert [e["field"] for e in response.json()["detail"]] == [field], change
    missing = post(client, f"{URL}/transfers", {"kind": "donate", "minutes": 5})
    assert [e["field"] for e in missing.json()["detail"]] == ["idempotency_key"]
    assert ledger_state() == before


def test_a_user_without_a_resident_record_cannot_transfer(city):
    before = ledger_state()
    response = transfer(token_client(city.worker_a), kind="donate")
    assert (response.status_code, response.json()) == (404, MISSING)
    assert ledger_state() == before


def test_session_clients_need_the_csrf_token(city):
    member(city.grid_a, "王一", "wang", minutes=60)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(User.objects.get(username="wang"))
    before = ledger_state()
    response = transfer(browser, kind="donate")
    assert response.status_code == 403
    assert ledger_state() == before


# --- the summary --------------------------------------------------------------------------


def _dated(transfer: Transfer, when: dt.datetime) -> None:
    Transfer.objects.filter(pk=transfer.pk).update(created_at=when)
    Entry.objects.filter(transfer=transfer).update(created_at=when)


def test_statement_summary_by_month_and_year(city):
    from huzhu.timebank import ledger
    from huzhu.timebank.ledger import Leg

    person, client = member(city.grid_a, "王一", "wang")
    account = account_for_person(person)
    issuance = org_account(city.community_a, AccountKind.ISSUANCE)
    pool = org_account(city.community_a, AccountKind.POOL)
    local = timezone.get_current_timezone()
    for n, (when, legs) in enumerate(
        [
            (dt.datetime(2023, 12, 20, 9), [Leg(issuance.pk, -120), Leg(account.pk, 120)]),
            (dt.datetime(2024, 1, 5, 9), [Leg(issuance.pk, -90), Leg(account.pk, 90)]),
            (dt.datetime(2024, 3, 10, 9), [Leg(account.pk, -60), Leg(pool.pk, 60)]),
            (dt.datetime(2024, 4, 1, 0, 30), [Leg(issuance.pk, -45), Leg(account.pk, 45)]),
        ]
    ):
        made = ledger.post(kind="earn", legs=legs, idempotency_key=f"s{n}")
        _dated(made, when.replace(tzinfo=local))
    response = client.get(f"{URL}/accounts/{account.pk}/statement?year=2024&month=4")
    assert response.json() == {
        "account_id": account.pk,
        "period_from": "2024-04-01",
        "period_to": "2024-04-30",
        "opening_minutes": 150,
        "in_minutes": 45,
        "out_minutes": 0,
        "net_minutes": 45,
        "closing_minutes": 195,
        "months": [
            {
                "year": 2024,
                "month": 4,
                "in_minutes": 45,
                "out_minutes": 0,
                "net_minutes": 45,
                "closing_minutes": 195,
            }
        ],
        "years": [
            {
                "year": 2024,
                "in_minutes": 45,
                "out_minutes": 0,
                "net_minutes": 45,
                "closing_minutes": 195,
            }
        ],
    }
    year = client.get(f"{URL}/accounts/{account.pk}/statement?year=2024").json()
    assert [
        (m["month"], m["in_minutes"], m["out_minutes"], m["closing_minutes"])
        for m in year["months"]
    ] == [
        (1, 90, 0, 210),
        (2, 0, 0, 210),
        (3, 0, 60, 150),
        (4, 45, 0, 195),
        *[(month, 0, 0, 195) for month in range(5, 13)],
    ]
    assert year["years"] == [
        {
            "year": 2024,
            "in_minutes": 135,
            "out_minutes": 60,
            "net_minutes": 75,
            "closing_minutes": 195,
        }
    ]
    bad = client.get(f"{URL}/accounts/{account.pk}/statement?month=4")
    assert bad.status_code == 422
    assert bad.json()["detail"] == [{"field": "month", "message": "指定月份时须同时指定年份"}]
