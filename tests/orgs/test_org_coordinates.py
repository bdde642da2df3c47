"""An org's centre (纬度/经度): parsed by the forms, judged by org_create / org_update (both or
neither, within range), shown on the detail page and carried by the orgs API."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from huzhu.api.services import api_token_create
from huzhu.common.models import AuditEntry
from huzhu.orgs.forms import OrgCreateForm, OrgEditForm
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.orgs.services import org_create, org_update
from tests.factories import UserFactory, grant

pytestmark = pytest.mark.django_db

PAIR_LAT = "请同时填写纬度（经纬度须同时填写或同时留空）"
PAIR_LNG = "请同时填写经度（经纬度须同时填写或同时留空）"
LAT_RANGE = "纬度应在 -90 到 90 之间"
LNG_RANGE = "经度应在 -180 到 180 之间"


@pytest.fixture
def admin(city):
    user = UserFactory(username="street-admin")
    grant(user, city.street, Role.ADMIN)
    return user


@pytest.fixture
def scope(admin):
    return Scope.for_user(admin)


def place(org: Org) -> tuple[float | None, float | None]:
    org.refresh_from_db()
    return org.latitude, org.longitude


def state() -> tuple[list, int]:
    """Everything a refused write must leave as it was."""
    return list(Org.objects.order_by("pk").values()), AuditEntry.objects.count()


# --- forms ---------------------------------------------------------------------------------


def edit_data(**extra: str) -> dict[str, str]:
    return {"edit-name": "甲社区", "edit-division_code": "370102001001", **extra}


def test_edit_form_parses_coordinates_as_floats(city):
    form = OrgEditForm(
        edit_data(**{"edit-latitude": " 36.651234 ", "edit-longitude": "117.120456"})
    )
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["latitude"], form.cleaned_data["longitude"]) == (
        36.651234,
        117.120456,
    )
    assert type(form.cleaned_data["latitude"]) is float


def test_edit_form_leaves_blank_coordinates_none(city):
    form = OrgEditForm(edit_data(**{"edit-latitude": "", "edit-longitude": ""}))
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["latitude"], form.cleaned_data["longitude"]) == (None, None)


@pytest.mark.parametrize("value", ["abc", "36,65", "nan", "inf"])
def test_edit_form_refuses_what_is_not_a_number(city, value):
    form = OrgEditForm(edit_data(**{"edit-latitude": value, "edit-longitude": "117.1"}))
    assert not form.is_valid()
    assert form.errors == {"latitude": ["请输入数字（十进制度数，如 36.651234）"]}
    assert "is-invalid" in form.fields["latitude"].widget.attrs["class"]


def test_edit_form_starts_from_the_orgs_centre(city):
    city.community_a.latitude, city.community_a.longitude = 36.66, 117.05
    form = OrgEditForm.for_org(city.community_a)
    assert (form["latitude"].value(), form["longitude"].value()) == (36.66, 117.05)
    assert form.fields["latitude"].label == "纬度"
    assert form.fields["longitude"].label == "经度"
    assert not form.fields["latitude"].required and not form.fields["longitude"].required


def test_create_form_offers_the_coordinates(city):
    form = OrgCreateForm(
        {
            "child-kind": "grid",
            "child-name": "第二网格",
            "child-latitude": "36.6",
            "child-longitude": "117.0",
        },
        parent=city.community_a,
    )
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["latitude"], form.cleaned_data["longitude"]) == (36.6, 117.0)


# --- org_create ----------------------------------------------------------------------------


def test_org_create_stores_the_centre(city, admin, scope):
    grid = org_create(
        actor=admin,
        scope=scope,
        parent=city.community_a,
        kind=OrgKind.GRID,
        name="第二网格",
        latitude=36.651234,
        longitude=117.120456,
    )
    assert place(grid) == (36.651234, 117.120456)


def test_org_create_without_a_centre(city, admin, scope):
    grid = org_create(
        actor=admin, scope=scope, parent=city.community_a, kind=OrgKind.GRID, name="第二网格"
    )
    assert place(grid) == (None, None)


@pytest.mark.parametrize(
    ("latitude", "longitude"), [(-90, -180), (90, 180), (0, 0), (-90.0, 180.0)]
)
def test_org_create_accepts_the_bounds(city, admin, scope, latitude, longitude):
    grid = org_create(
        actor=admin,
        scope=scope,
        parent=city.community_a,
        kind=OrgKind.GRID,
        name="边界网格",
        latitude=latitude,
        longitude=longitude,
    )
    assert place(grid) == (float(latitude), float(longitude))


@pytest.mark.parametrize(
    ("latitude", "longitude", "errors"),
    [
        (36.6, None, {"longitude": [PAIR_LNG]}),
        (None, 117.0, {"latitude": [PAIR_LAT]}),
        (90.000001, 117.0, {"latitude": [LAT_RANGE]}),
        (-91, 117.0, {"latitude": [LAT_RANGE]}),
        (36.6, 180.5, {"longitude": [LNG_RANGE]}),
        (36.6, -181, {"longitude": [LNG_RANGE]}),
        (100, 200, {"latitude": [LAT_RANGE], "longitude": [LNG_RANGE]}),
        (float("nan"), 117.0, {"latitude": [LAT_RANGE]}),
        (36.6, float("inf"), {"longitude": [LNG_RANGE]}),
        (10**400, 117.0, {"latitude": [LAT_RANGE]}),
        (36.6, -(10**400), {"longitude": [LNG_RANGE]}),
        ("北纬36度", 117.0, {"latitude": ["纬度应为数字"]}),
        (True, 117.0, {"latitude": ["纬度应为数字"]}),
        (36.6, [117], {"longitude": ["经度应为数字"]}),
    ],
)
def test_org_create_refuses_bad_coordinates_naming_the_field(
    city, admin, scope, latitude, longitude, errors
):
    before = state()
    with pytest.raises(ValidationError) as caught:
        org_create(
            actor=admin,
            scope=scope,
            parent=city.community_a,
            kind=OrgKind.GRID,
            name="第二网格",
            latitude=latitude,
            longitude=longitude,
        )
    assert caught.value.message_dict == errors
    assert state() == before


def test_org_create_reads_numbers_written_as_text(city, admin, scope):
    grid = org_create(
        actor=admin,
        scope=scope,
        parent=city.community_a,
        kind=OrgKind.GRID,
        name="第二网格",
        latitude=" 36.6 ",
        longitude="117",
    )
    assert place(grid) == (36.6, 117.0)
    other = org_create(
        actor=admin,
        scope=scope,
        parent=city.community_a,
        kind=OrgKind.GRID,
        name="第三网格",
        latitude="",
        longitude="  ",
    )
    assert place(other) == (None, None)


# --- org_update ----------------------------------------------------------------------------


def test_org_update_sets_and_audits_the_centre(city, admin, scope):
    org_update(actor=admin, scope=scope, org=city.community_a, latitude=36.66, longitude=117.05)
    assert place(city.community_a) == (36.66, 117.05)
    entry = AuditEntry.objects.get(verb="org.update")
    assert entry.data == {"changes": {"latitude": [None, 36.66], "longitude": [None, 117.05]}}


def test_org_update_judges_one_coordinate_with_the_stored_other(city, admin, scope):
    org = city.community_a
    org_update(actor=admin, scope=scope, org=org, latitude=36.66, longitude=117.05)
    org_update(actor=admin, scope=scope, org=org, latitude=36.67)
    assert place(org) == (36.67, 117.05)

    before = state()
    with pytest.raises(ValidationError) as caught:
        org_update(actor=admin, scope=scope, org=org, longitude=None)
    assert caught.value.message_dict == {"longitude": [PAIR_LNG]}
    with pytest.raises(ValidationError) as caught:
        org_update(actor=admin, scope=scope, org=org, latitude=95)
    assert caught.value.message_dict == {"latitude": [LAT_RANGE]}
    assert state() == before

    org_update(actor=admin, scope=scope, org=org, latitude=None, longitude=None)
    assert place(org) == (None, None)


def test_org_update_without_coordinates_leaves_them(city, admin, scope):
    org = city.community_a
    org_update(actor=admin, scope=scope, org=org, latitude=36.66, longitude=117.05)
    org_update(actor=admin, scope=scope, org=org, address="幸福路1号")
    assert place(org) == (36.66, 117.05)


def test_org_update_of_the_same_centre_writes_nothing(city, admin, scope):
    org = city.community_a
    org_update(actor=admin, scope=scope, org=org, latitude=36.66, longitude=117.05)
    before = state()
    org_update(actor=admin, scope=scope, org=org, latitude=36.66, longitude=117.05)
    assert state() == before


def test_worker_cannot_set_the_centre(city):
    scope = Scope.for_user(city.worker_a)
    with pytest.raises(PermissionDenied, match="您没有管理该组织的权限"):
        org_update(
            actor=city.worker_a, scope=scope, org=city.community_a, latitude=1.0, longitude=1.0
        )
    assert place(city.community_a) == (None, None)


# --- pages ---------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def field_errors(response, name: str) -> list[str]:
    html = response.content.decode()
    return re.findall(rf'data-field-error="{re.escape(name)}">([^<]*)<', html)


def test_edit_page_sets_the_centre_and_detail_shows_it(admin_client, city):
    url = f"/orgs/{city.community_a.pk}/edit/"
    page = admin_client.get(url).content.decode()
    assert 'name="edit-latitude"' in page and 'name="edit-longitude"' in page
    response = admin_client.post(
        url,
        edit_data(**{"edit-latitude": "36.651234", "edit-longitude": "117.120456"}),
    )
    assert response.status_code == 302
    assert place(city.community_a) == (36.651234, 117.120456)
    detail = admin_client.get(response["Location"]).content.decode()
    centre = re.search(r'data-testid="org-centre">(.*?)</dd>', detail).group(1)
    assert centre == "纬度 36.651234，经度 117.120456"
    edit = admin_client.get(url)
    assert edit.context["form"]["latitude"].value() == 36.651234


def test_detail_of_an_org_without_centre_says_so(admin_client, city):
    detail = admin_client.get(f"/orgs/{city.community_a.pk}/").content.decode()
    centre = re.search(r'data-testid="org-centre">(.*?)</dd>', detail).group(1)
    assert centre == '<span class="text-body-secondary">未标注</span>'


@pytest.mark.parametrize(
    ("latitude", "longitude", "field", "message"),
    [
        ("36.6", "", "edit-longitude", PAIR_LNG),
        ("", "117.1", "edit-latitude", PAIR_LAT),
        ("96", "117.1", "edit-latitude", LAT_RANGE),
        ("36.6", "-190", "edit-longitude", LNG_RANGE),
        ("三十六", "117.1", "edit-latitude", "请输入数字（十进制度数，如 36.651234）"),
    ],
)
def test_edit_page_refuses_bad_coordinates_next_to_the_field(
    admin_client, city, latitude, longitude, field, message
):
    before = state()
    response = admin_client.post(
        f"/orgs/{city.community_a.pk}/edit/",
        edit_data(**{"edit-latitude": latitude, "edit-longitude": longitude}),
    )
    assert response.status_code == 400
    assert field_errors(response, field) == [message]
    assert state() == before


def test_child_form_sets_the_centre(admin_client, city):
    response = admin_client.post(
        f"/orgs/{city.community_a.pk}/children/new/",
        {
            "child-kind": "grid",
            "child-name": "甲社区第二网格",
            "child-latitude": "36.652",
            "child-longitude": "117.121",
        },
    )
    assert response.status_code == 302
    assert place(Org.objects.get(name="甲社区第二网格")) == (36.652, 117.121)


def test_child_form_refuses_half_a_centre(admin_client, city):
    response = admin_client.post(
        f"/orgs/{city.community_a.pk}/children/new/",
        {"child-kind": "grid", "child-name": "甲社区第二网格", "child-latitude": "36.652"},
    )
    assert response.status_code == 400
    assert field_errors(response, "child-longitude") == [PAIR_LNG]
    assert not Org.objects.filter(name="甲社区第二网格").exists()


# --- API -----------------------------------------------------------------------------------


def bearer(user: object) -> Client:
    _, raw = api_token_create(actor=None, user=user, name="tests")
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def api_admin(city, admin):
    return bearer(admin)


@pytest.fixture
def client_a(city):
    return bearer(city.worker_a)


def test_api_shows_the_centre(city, client_a):
    body = client_a.get(f"/api/v1/orgs/{city.community_a.pk}").json()
    assert (body["latitude"], body["longitude"]) == (None, None)
    Org.objects.filter(pk=city.community_a.pk).update(latitude=36.66, longitude=117.05)
    body = client_a.get(f"/api/v1/orgs/{city.community_a.pk}").json()
    assert (body["latitude"], body["longitude"]) == (36.66, 117.05)


def test_api_creates_with_a_centre(city, api_admin):
    response = api_admin.post(
        "/api/v1/orgs",
        {
            "parent_id": city.community_a.pk,
            "kind": "grid",
            "name": "第二网格",
            "latitude": 36.651234,
            "longitude": 117.120456,
        },
        content_type="application/json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["latitude"], body["longitude"]) == (36.651234, 117.120456)
    assert place(Org.objects.get(pk=body["id"])) == (36.651234, 117.120456)


@pytest.mark.parametrize(
    ("extra", "detail"),
    [
        ({"latitude": 36.6}, [{"field": "longitude", "message": PAIR_LNG}]),
        ({"longitude": 117.0}, [{"field": "latitude", "message": PAIR_LAT}]),
        ({"latitude": 91, "longitude": 117.0}, [{"field": "latitude", "message": LAT_RANGE}]),
        ({"latitude": 36.6, "longitude": -180.01}, [{"field": "longitude", "message": LNG_RANGE}]),
        (
            {"latitude": -100, "longitude": 300},
            [
                {"field": "latitude", "message": LAT_RANGE},
                {"field": "longitude", "message": LNG_RANGE},
            ],
        ),
    ],
)
def test_api_create_refuses_bad_centres_naming_the_field(city, api_admin, extra, detail):
    payload = {"parent_id": city.community_a.pk, "kind": "grid", "name": "第二网格", **extra}
    response = api_admin.post("/api/v1/orgs", payload, content_type="application/json")
    assert response.status_code == 422
    assert response.json() == {"detail": detail}
    assert not Org.objects.filter(name="第二网格").exists()


@pytest.mark.parametrize("value", ["36.6", "北纬", True, [36.6], {"deg": 36}])
def test_api_refuses_what_is_not_a_number(city, api_admin, value):
    response = api_admin.post(
        "/api/v1/orgs",
        {
            "parent_id": city.community_a.pk,
            "kind": "grid",
            "name": "第二网格",
            "latitude": value,
            "longitude": 117.0,
        },
        content_type="application/json",
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert (error["field"], error["message"]) == ("latitude", "应为数字（十进制度数）")
    assert not Org.objects.filter(name="第二网格").exists()


def test_api_refuses_nan_from_a_lenient_json_body(city, api_admin):
    response = api_admin.post(
        "/api/v1/orgs",
        f'{{"parent_id": {city.community_a.pk}, "kind": "grid", "name": "第二网格", '
        '"latitude": NaN, "longitude": 1}',
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json() == {"detail": [{"field": "latitude", "message": LAT_RANGE}]}
    assert not Org.objects.filter(name="第二网格").exists()


def test_api_refuses_an_integer_too_large_for_a_float(city, api_admin):
    response = api_admin.post(
        "/api/v1/orgs",
        f'{{"parent_id": {city.community_a.pk}, "kind": "grid", "name": "第二网格", '
        f'"latitude": 36.6, "longitude": -{"9" * 400}}}',
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json() == {"detail": [{"field": "longitude", "message": LNG_RANGE}]}
    assert not Org.objects.filter(name="第二网格").exists()


def test_api_patch_sets_moves_and_clears_the_centre(city, api_admin):
    url = f"/api/v1/orgs/{city.community_a.pk}"

    def patch(payload: dict) -> object:
        return api_admin.patch(url, payload, content_type="application/json")

    response = patch({"latitude": 36.66, "longitude": 117.05})
    assert response.status_code == 200
    assert (response.json()["latitude"], response.json()["longitude"]) == (36.66, 117.05)

    response = patch({"latitude": 36.67})  # judged with the stored longitude
    assert response.status_code == 200
    assert place(city.community_a) == (36.67, 117.05)

    response = patch({"longitude": None})
    assert response.status_code == 422
    assert response.json() == {"detail": [{"field": "longitude", "message": PAIR_LNG}]}
    response = patch({"latitude": 90.5})
    assert response.status_code == 422
    assert response.json() == {"detail": [{"field": "latitude", "message": LAT_RANGE}]}
    assert place(city.community_a) == (36.67, 117.05)

    response = patch({"latitude": None, "longitude": None})
    assert response.status_code == 200
    assert (response.json()["latitude"], response.json()["longitude"]) == (None, None)
    assert place(city.community_a) == (None, None)


def test_openapi_describes_the_centre(city, client_a):
    schema = client_a.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert {"latitude", "longitude"} <= set(schema["OrgOut"]["properties"])
    assert {"latitude", "longitude"} <= set(schema["OrgIn"]["properties"])
    assert {"latitude", "longitude"} <= set(schema["OrgPatch"]["properties"])
