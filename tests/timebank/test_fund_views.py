"""团体时长 and the 保障基金 at the counter and over the API: the lists, donations of a
team's credits, seeding and granting from the guarantee fund, refusals that change nothing,
scope and query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huzhu.common.models import AuditEntry
from huzhu.timebank import ledger
from huzhu.timebank.ledger import Leg
from huzhu.timebank.models import Account, AccountKind, Transfer
from huzhu.timebank.services import org_account
from tests.activities.clients import MISSING, client_for, errors, post, token_client
from tests.activities.factories import make_service_team
from tests.factories import make_person

pytestmark = pytest.mark.django_db
TEAMS = "/timebank/counter/teams/"
FUND = "/timebank/counter/fund/"
API = "/api/v1/timebank"


@pytest.fixture
def worker_a(city):
    return client_for(city.worker_a)


@pytest.fixture
def worker_b(city):
    return client_for(city.worker_b)


def credited_team(community, minutes: int, name: str = "甲社区助老服务队"):
    """A service team of ``community`` whose team account holds ``minutes``."""
    team = make_service_team(community, name)
    account = org_account(team, AccountKind.TEAM)
    issuance = org_account(team, AccountKind.ISSUANCE)
    ledger.post(kind="earn", legs=[Leg(issuance.pk, -minutes), Leg(account.pk, minutes)])
    return team


def balance(org, kind: str) -> int:
    account = Account.objects.filter(org=org, kind=kind).first()
    return account.balance if account is not None else 0


def person_balance(person) -> int:
    account = Account.objects.filter(person=person).first()
    return account.balance if account is not None else 0


def state() -> tuple:
    """Everything a refused request must leave as it was."""
    return (
        list(Account.objects.order_by("id").values_list("id", "balance")),
        Transfer.objects.count(),
        AuditEntry.objects.filter(verb__startswith="timebank.").count(),
    )


def token(response) -> str:
    return response.context["form"]["token"].value()


# --- 团体时长: the list ------------------------------------------------------------------------


def test_teams_page_lists_the_teams_in_scope_with_their_balance(city, worker_a):
    team = credited_team(city.community_a, 120)
    other = make_service_team(city.community_b, "乙社区服务队")
    response = worker_a.get(TEAMS)
    assert response.status_code == 200
    rows = [(t.pk, t.balance_hours, t.can_donate) for t in response.context["teams"]]
    assert rows == [(team.pk, "2", True)]
    html = response.content.decode()
    assert f"/timebank/counter/teams/{team.pk}/donate/" in html
    assert "乙社区服务队" not in html
    assert other.pk not in [t.pk for t in response.context["teams"]]


def test_a_team_without_an_account_shows_zero(city, worker_a):
    team = make_service_team(city.community_a)
    response = worker_a.get(TEAMS)
    assert [(t.pk, t.balance_hours) for t in response.context["teams"]] == [(team.pk, "0")]
    assert not Account.objects.filter(org=team).exists()


def test_teams_list_query_count_does_not_grow_with_rows(city, worker_a):
    credited_team(city.community_a, 60, "一队")
    worker_a.get(TEAMS)
    with CaptureQueriesContext(connection) as one:
        assert worker_a.get(TEAMS).status_code == 200
    credited_team(city.community_a, 60, "二队")
    make_service_team(city.community_a, "三队")
    with CaptureQueriesContext(connection) as three:
        response = worker_a.get(TEAMS)
    assert len(response.context["teams"]) == 3
    assert len(three) == len(one)


# --- 团体时长: donating through the page -------------------------------------------------------


def test_donate_to_the_pool_through_the_page_once_per_form(city, worker_a):
    team = credited_team(city.community_a, 120)
    url = f"{TEAMS}{team.pk}/donate/"
    page = worker_a.get(url)
    assert page.status_code == 200
    key = token(page)
    data = {"to": "pool", "hours": "1", "memo": "", "token": key}
    response = worker_a.post(url, data)
    assert response.status_code == 302
    assert response["Location"] == TEAMS
    assert balance(team, AccountKind.TEAM) == 60
    assert balance(city.community_a, AccountKind.POOL) == 60
    assert worker_a.post(url, data).status_code == 302  # a double submit replays
    assert balance(team, AccountKind.TEAM) == 60
    assert Transfer.objects.filter(kind="donate").count() == 1
    assert ledger.verify().ok


def test_donate_to_a_resident_chosen_by_search(city, worker_a):
    team = credited_team(city.community_a, 120)
    elder = make_person(city.grid_a, "孤寡老人")
    url = f"{TEAMS}{team.pk}/donate/"
    found = worker_a.get(url, {"q": "孤寡老人"})
    assert [c["person"].pk for c in found.context["search"]["candidates"]] == [elder.pk]
    page = worker_a.get(url, {"person": elder.pk})
    assert page.context["person"] == elder
    assert page.context["form"]["to"].value() == "person"
    data = {"to": "person", "hours": "0.5", "memo": "重阳节", "token": token(page)}
    response = worker_a.post(f"{url}?person={elder.pk}", data)
    assert response.status_code == 302
    assert person_balance(elder) == 30
    assert balance(team, AccountKind.TEAM) == 90
    transfer = Transfer.objects.get(kind="donate")
    assert transfer.memo == "重阳节"


def test_refused_donations_change_nothing(city, worker_a):
    team = credited_team(city.community_a, 60)
    url = f"{TEAMS}{team.pk}/donate/"
    before = state()
    response = worker_a.post(url, {"to": "pool", "hours": "2", "token": "k1"})
    assert response.status_code == 400
    assert "余额不足" in " ".join(response.context["form"].errors["hours"])
    response = worker_a.post(url, {"to": "person", "hours": "0.5", "token": "k2"})
    assert response.status_code == 400
    assert response.context["form"].errors["to"] == ["请先查找并选择受赠居民。"]
    response = worker_a.post(url, {"to": "pool", "hours": "0", "token": "k3"})
    assert response.status_code == 400
    assert response.context["form"].errors["hours"] == ["捐赠时长必须大于零。"]
    assert state() == before


def test_worker_b_cannot_see_or_donate_community_a_teams(city, worker_b):
    team = credited_team(city.community_a, 120)
    url = f"{TEAMS}{team.pk}/donate/"
    before = state()
    assert worker_b.get(url).status_code == 404
    assert worker_b.post(url, {"to": "pool", "hours": "1", "token": "x"}).status_code == 404
    assert list(worker_b.get(TEAMS).context["teams"]) == []
    assert state() == before


# --- 保障基金 through the pages ---------------------------------------------------------------


def test_fund_page_lists_the_orgs_in_scope_with_their_balance(city, worker_a):
    response = worker_a.get(FUND)
    assert response.status_code == 200
    rows = [(o.pk, o.balance_hours) for o in response.context["orgs"]]
    assert rows == [(city.community_a.pk, "0")]
    assert f"{FUND}{city.community_a.pk}/" in response.content.decode()
    assert "乙社区" not in response.content.decode()


def test_seed_and_grant_through_the_page(city, worker_a):
    elder = make_person(city.grid_a, "王奶奶")
    url = f"{FUND}{city.community_a.pk}/"
    assert worker_a.get(url).status_code == 200
    response = worker_a.post(
        url, {"action": "seed", "seed-hours": "10", "seed-reason": "区民政局拨付"}
    )
    assert response.status_code == 302
    assert balance(city.community_a, AccountKind.GUARANTEE) == 600
    assert balance(city.community_a, AccountKind.ISSUANCE) == -600
    page = worker_a.get(url, {"person": elder.pk})
    assert page.context["person"] == elder
    response = worker_a.post(
        f"{url}?person={elder.pk}",
        {"action": "grant", "grant-hours": "2", "grant-reason": "特困供养老人"},
    )
    assert response.status_code == 302
    assert person_balance(elder) == 120
    assert balance(city.community_a, AccountKind.GUARANTEE) == 480
    assert worker_a.get(FUND).context["orgs"][0].balance_hours == "8"
    memos = set(Transfer.objects.filter(kind="grant").values_list("memo", flat=True))
    assert memos == {"保障基金注资：区民政局拨付", "保障基金资助：特困供养老人"}
    assert ledger.verify().ok


def test_refused_seed_and_grant_change_nothing(city, worker_a):
    elder = make_person(city.grid_a, "王奶奶")
    url = f"{FUND}{city.community_a.pk}/"
    before = state()
    response = worker_a.post(url, {"action": "seed", "seed-hours": "1", "seed-reason": " "})
    assert response.status_code == 400
    assert response.context["seed_form"].errors["hours"] == ["请填写大于零的时长和注资依据。"]
    response = worker_a.post(
        f"{url}?person={elder.pk}",
        {"action": "grant", "grant-hours": "1", "grant-reason": "特困"},
    )
    assert response.status_code == 400
    assert "余额不足" in " ".join(response.context["grant_form"].errors["hours"])
    response = worker_a.post(url, {"action": "grant", "grant-hours": "1", "grant-reason": "特困"})
    assert response.status_code == 400
    assert response.context["grant_form"].non_field_errors() == ["请先查找并选择受资助的居民。"]
    assert state() == before


def test_worker_b_cannot_reach_community_a_fund(city, worker_b):
    elder = make_person(city.grid_a, "王奶奶")
    url = f"{FUND}{city.community_a.pk}/"
    before = state()
    assert worker_b.get(url).status_code == 404
    seed = {"action": "seed", "seed-hours": "1", "seed-reason": "越权"}
    assert worker_b.post(url, seed).status_code == 404
    assert worker_b.get(f"{FUND}{city.community_b.pk}/", {"person": elder.pk}).status_code == 404
    assert [o.pk for o in worker_b.get(FUND).context["orgs"]] == [city.community_b.pk]
    assert state() == before


# --- the API ---------------------------------------------------------------------------------


def test_api_team_donate_is_idempotent_and_names_refused_rules(city):
    team = credited_team(city.community_a, 120)
    elder = make_person(city.grid_a, "孤寡老人")
    outsider = make_person(city.grid_b, "乙社区居民")
    client = token_client(city.worker_a)
    url = f"{API}/teams/{team.pk}/donate"
    response = post(client, url, {"minutes": 60, "idempotency_key": "d-1"})
    assert response.status_code == 201
    body = response.json()
    pool = Account.objects.get(org=city.community_a, kind=AccountKind.POOL)
    assert (body["kind"], body["minutes"], body["to_account"]) == ("donate", 60, pool.pk)
    assert body["replayed"] is False
    again = post(client, url, {"minutes": 60, "idempotency_key": "d-1"})
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["replayed"]) == (body["id"], True)
    response = post(client, url, {"minutes": 30, "to_person": elder.pk, "idempotency_key": "d-2"})
    assert response.status_code == 201
    assert person_balance(elder) == 30
    before = state()
    refusals = [
        ({"minutes": 10, "to_person": outsider.pk, "idempotency_key": "d-3"}, "team.recipient"),
        ({"minutes": 10, "to_person": 99_999_999, "idempotency_key": "d-4"}, "team.recipient"),
        ({"minutes": 600, "idempotency_key": "d-5"}, "balance.insufficient"),
        ({"minutes": 15, "idempotency_key": "d-1"}, "idempotency.mismatch"),
    ]
    for payload, rule in refusals:
        response = post(client, url, payload)
        assert response.status_code == 422, payload
        assert response.json()["rule"] == rule
    assert response.json()["detail"][0]["field"] == "idempotency_key"
    assert errors(post(client, url, {"minutes": 10})) == [("idempotency_key", "此项为必填项")]
    assert state() == before
    assert balance(team, AccountKind.TEAM) == 30


def test_api_fund_seed_and_grant(city):
    elder = make_person(city.grid_a, "王奶奶")
    outsider = make_person(city.grid_b, "乙社区居民")
    client = token_client(city.worker_a)
    base = f"{API}/fund/{city.community_a.pk}"
    response = post(client, f"{base}/seed", {"minutes": 600, "reason": "区民政局拨付"})
    assert response.status_code == 201
    assert response.json()["kind"] == "grant"
    payload = {"person_id": elder.pk, "minutes": 120, "reason": "特困供养老人"}
    response = post(client, f"{base}/grant", payload)
    assert response.status_code == 201
    assert response.json()["to_account"] == Account.objects.get(person=elder).pk
    assert person_balance(elder) == 120
    assert balance(city.community_a, AccountKind.GUARANTEE) == 480
    before = state()
    refusals = [
        ({"person_id": elder.pk, "minutes": 600, "reason": "x"}, "balance.insufficient"),
        ({"person_id": outsider.pk, "minutes": 10, "reason": "x"}, "fund.scope"),
        ({"person_id": 99_999_999, "minutes": 10, "reason": "x"}, "fund.scope"),
        ({"person_id": elder.pk, "minutes": 10, "reason": "  "}, "fund.input"),
    ]
    for body, rule in refusals:
        response = post(client, f"{base}/grant", body)
        assert response.status_code == 422, body
        assert response.json()["rule"] == rule
    invalid = post(client, f"{base}/seed", {"minutes": 0, "reason": "x"})
    assert invalid.status_code == 422
    assert errors(post(client, f"{base}/grant", {})) == [
        ("person_id", "此项为必填项"),
        ("minutes", "此项为必填项"),
    ]
    assert state() == before
    assert ledger.verify().ok


def test_api_worker_b_gets_404_on_community_a(city):
    team = credited_team(city.community_a, 120)
    elder = make_person(city.grid_a, "王奶奶")
    client = token_client(city.worker_b)
    before = state()
    donate = post(client, f"{API}/teams/{team.pk}/donate", {"minutes": 10, "idempotency_key": "x"})
    assert (donate.status_code, donate.json()) == (404, MISSING)
    base = f"{API}/fund/{city.community_a.pk}"
    seed = post(client, f"{base}/seed", {"minutes": 10, "reason": "越权"})
    assert (seed.status_code, seed.json()) == (404, MISSING)
    grant = post(client, f"{base}/grant", {"person_id": elder.pk, "minutes": 10, "reason": "越权"})
    assert (grant.status_code, grant.json()) == (404, MISSING)
    assert state() == before


def test_a_seed_or_grant_sent_twice_moves_credits_once(city, worker_a):
    elder = make_person(city.grid_a, "李奶奶")
    url = f"{FUND}{city.community_a.pk}/"
    seed = {"action": "seed", "seed-hours": "5", "seed-reason": "拨付", "seed-token": "a" * 32}
    assert worker_a.post(url, seed).status_code == 302
    assert worker_a.post(url, seed).status_code == 302  # a reload of the same form
    assert balance(city.community_a, AccountKind.GUARANTEE) == 300
    grant = {"action": "grant", "grant-hours": "1", "grant-reason": "特困", "grant-token": "b" * 32}
    for _ in range(2):
        assert worker_a.post(f"{url}?person={elder.pk}", grant).status_code == 302
    assert person_balance(elder) == 60
    assert Transfer.objects.filter(kind="grant").count() == 2
    assert ledger.verify().ok
