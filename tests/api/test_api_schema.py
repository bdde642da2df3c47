"""OpenAPI, the offline docs page, /me, and the routes' parameter names."""

from __future__ import annotations

import json
import re

from django.test import Client

from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.people.services import person_link_user
from tests.factories import grant, make_person

PATHS = {
    "/api/v1/me": {"get"},
    "/api/v1/orgs": {"get", "post"},
    "/api/v1/orgs/{org_id}": {"get", "patch"},
    "/api/v1/orgs/by-code/{code}": {"get"},
    "/api/v1/people": {"get", "post"},
    "/api/v1/people/{person_id}": {"get", "patch"},
    "/api/v1/people/{person_id}/reveal": {"post"},
    "/api/v1/volunteers": {"get", "post"},
    "/api/v1/volunteers/me": {"get"},
    "/api/v1/volunteers/classification": {"get"},
    "/api/v1/volunteers/{volunteer_id}": {"get", "patch"},
    "/api/v1/volunteers/{volunteer_id}/status": {"post"},
    "/api/v1/volunteers/{volunteer_id}/qualifications": {"get", "post"},
    "/api/v1/volunteers/teams": {"get"},
    "/api/v1/volunteers/teams/{team_id}": {"get"},
    "/api/v1/volunteers/teams/{team_id}/members": {"get", "post"},
    "/api/v1/volunteers/teams/members/{membership_id}": {"delete", "patch"},
    "/api/v1/volunteers/training/courses": {"get", "post"},
    "/api/v1/volunteers/training/courses/{course_id}": {"get"},
    "/api/v1/volunteers/training/sessions": {"get", "post"},
    "/api/v1/volunteers/training/sessions/{session_id}": {"get"},
    "/api/v1/volunteers/training/sessions/{session_id}/attendance": {"get", "post"},
    "/api/v1/activities": {"get", "post"},
    "/api/v1/activities/{activity_id}": {"get", "patch"},
    "/api/v1/activities/{activity_id}/status": {"post"},
    "/api/v1/activities/{activity_id}/beneficiaries": {"post"},
    "/api/v1/activities/{activity_id}/shifts": {"get", "post"},
    "/api/v1/activities/shifts/{shift_id}": {"patch"},
    "/api/v1/activities/shifts/{shift_id}/cancel": {"post"},
    "/api/v1/activities/shifts/{shift_id}/signups": {"get", "post"},
    "/api/v1/activities/shifts/{shift_id}/confirm": {"post"},
    "/api/v1/activities/shifts/{shift_id}/records": {"post"},
    "/api/v1/activities/signups/{signup_id}/decide": {"post"},
    "/api/v1/activities/signups/{signup_id}/attendance": {"post"},
    "/api/v1/activities/signups/{signup_id}/correct": {"post"},
    "/api/v1/activities/records": {"get", "post"},
    "/api/v1/activities/records/confirm": {"post"},
    "/api/v1/activities/records/{record_id}/reject": {"post"},
    "/api/v1/activities/records/{record_id}/revoke": {"post"},
    "/api/v1/activities/records/{record_id}/correct": {"post"},
    "/api/v1/activities/certificates": {"get"},
    "/api/v1/activities/certificates/verify": {"get"},
    "/api/v1/activities/certificates/{certificate_id}/issue": {"post"},
    "/api/v1/activities/certificates/{certificate_id}/reject": {"post"},
    "/api/v1/activities/certificates/{certificate_id}/revoke": {"post"},
    "/api/v1/activities/open": {"get"},
    "/api/v1/activities/open/{activity_id}": {"get"},
    "/api/v1/activities/me/signups": {"get", "post"},
    "/api/v1/activities/me/signups/{signup_id}/withdraw": {"post"},
    "/api/v1/activities/me/checkin": {"post"},
    "/api/v1/activities/me/hours": {"get"},
    "/api/v1/activities/me/orgs": {"get"},
    "/api/v1/activities/me/records": {"get", "post"},
    "/api/v1/activities/me/certificates": {"get", "post"},
    "/api/v1/timebank/accounts/me": {"get"},
    "/api/v1/timebank/accounts/{account_id}/entries": {"get"},
    "/api/v1/timebank/accounts/{account_id}/statement": {"get"},
    "/api/v1/timebank/transfers": {"post"},
    "/api/v1/timebank/teams/{team_id}/donate": {"post"},
    "/api/v1/timebank/fund/{org_id}/seed": {"post"},
    "/api/v1/timebank/fund/{org_id}/grant": {"post"},
    "/api/v1/needs": {"get", "post"},
    "/api/v1/needs/categories": {"get"},
    "/api/v1/needs/classify": {"post"},
    "/api/v1/needs/invitations": {"get"},
    "/api/v1/needs/invitations/{invitation_id}/accept": {"post"},
    "/api/v1/needs/invitations/{invitation_id}/decline": {"post"},
    "/api/v1/needs/{need_id}": {"get", "patch"},
    "/api/v1/needs/{need_id}/cancel": {"post"},
    "/api/v1/needs/{need_id}/start": {"post"},
    "/api/v1/needs/{need_id}/done": {"post"},
    "/api/v1/needs/{need_id}/confirm": {"post"},
    "/api/v1/needs/{need_id}/dispute": {"post"},
    "/api/v1/needs/{need_id}/dispute/return": {"post"},
    "/api/v1/needs/{need_id}/dispute/close": {"post"},
    "/api/v1/needs/{need_id}/apply": {"post"},
    "/api/v1/needs/{need_id}/matches": {"get"},
    "/api/v1/needs/{need_id}/invitations": {"get", "post"},
    "/api/v1/needs/{need_id}/broadcast": {"post"},
    "/api/v1/needs/{need_id}/applications/{invitation_id}/approve": {"post"},
    "/api/v1/needs/{need_id}/applications/{invitation_id}/decline": {"post"},
    "/api/v1/needs/{need_id}/messages": {"get", "post"},
    "/api/v1/needs/offers": {"get", "post"},
    "/api/v1/needs/offers/{offer_id}": {"patch"},
    "/api/v1/needs/pairings": {"get", "post"},
    "/api/v1/needs/pairings/{pairing_id}": {"get"},
    "/api/v1/needs/pairings/{pairing_id}/visits": {"post"},
    "/api/v1/needs/pairings/{pairing_id}/end": {"post"},
    "/api/v1/desk/communities/{org_id}/phones": {"post"},
    "/api/v1/desk/contacts": {"get", "post"},
    "/api/v1/desk/contacts/{contact_id}": {"delete"},
    "/api/v1/desk/matters": {"get", "post"},
    "/api/v1/desk/matters/{matter_id}": {"get", "patch"},
    "/api/v1/desk/notices": {"get", "post"},
    "/api/v1/desk/notices/{notice_id}": {"get"},
    "/api/v1/desk/notices/{notice_id}/moderate": {"post"},
    "/api/v1/desk/notices/{notice_id}/withdraw": {"post"},
    "/api/v1/desk/public/communities/{org_id}": {"get"},
    "/api/v1/desk/public/reports": {"get"},
    "/api/v1/desk/stats": {"get"},
    "/api/v1/desk/suggestions": {"get", "post"},
    "/api/v1/desk/suggestions/{suggestion_id}": {"get"},
    "/api/v1/desk/suggestions/{suggestion_id}/reply": {"post"},
    "/api/v1/desk/tickets": {"get", "post"},
    "/api/v1/desk/tickets/mine": {"get"},
    "/api/v1/desk/tickets/overdue": {"get"},
    "/api/v1/desk/tickets/{ticket_id}": {"get"},
    "/api/v1/desk/tickets/{ticket_id}/accept": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/acknowledge": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/answer": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/assign": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/close": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/extension": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/extension/decide": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/follow-up": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/link": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/notes": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/photos/{photo_id}/publish": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/resolve": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/return": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/reveal": {"post"},
    "/api/v1/desk/tickets/{ticket_id}/similar": {"get"},
    "/api/v1/desk/tickets/{ticket_id}/withdraw": {"post"},
}


def test_openapi_json_is_valid_and_lists_the_routes(db):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Huzhu API"
    assert {path: set(ops) for path, ops in schema["paths"].items()} == PATHS
    schemes = schema["components"]["securitySchemes"]
    assert schemes["TokenAuth"] == {"type": "http", "scheme": "bearer"}
    assert schemes["SessionAuth"]["in"] == "cookie"
    person = schema["components"]["schemas"]["PersonOut"]["properties"]
    assert "id_number_masked" in person and "phone_masked" in person
    assert "id_number" not in person and "phone" not in person
    list_params = {p["name"] for p in schema["paths"]["/api/v1/people"]["get"]["parameters"]}
    assert list_params == {"q", "org_id", "tag", "status", "limit", "offset"}


def test_docs_page_loads_nothing_from_outside(db):
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources == [
        "/api/v1/docs/swagger-ui.css",
        "/api/v1/docs/favicon.png",
        "/api/v1/docs/swagger-ui-bundle.js",
        "/api/v1/docs/swagger-ui-init.js",
    ]
    assert "cdn" not in html.lower()
    assert '"url": "/api/v1/openapi.json"' in html
    kinds = ("text/css", "image/png", "text/javascript", "text/javascript")
    for url, kind in zip(sources, kinds, strict=True):
        asset = Client().get(url)
        assert asset.status_code == 200, url
        assert asset["Content-Type"].startswith(kind)
        assert len(asset.content) > 1000
    assert Client().post("/api/v1/docs/swagger-ui.css").status_code == 405


def test_me(city, client_a):
    response = client_a.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "user": {
            "id": city.worker_a.pk,
            "username": "worker-a",
            "display_name": "worker-a",
            "is_superuser": False,
        },
        "roles": [{"role": "worker", "role_label": "社区工作者", "org_id": city.community_a.pk}],
        "person": None,
    }


def test_me_with_own_person_and_several_roles(city, bearer):
    grant(city.worker_a, city.grid_b, Role.SUPERVISOR)
    person = make_person(city.grid_a, "工作者甲", id_number="11010519491231002X")
    person_link_user(
        actor=None, scope=Scope(user_id=0, is_superuser=True), person=person, user=city.worker_a
    )
    body = bearer(city.worker_a).get("/api/v1/me").json()
    assert body["roles"] == [
        {"role": "worker", "role_label": "社区工作者", "org_id": city.community_a.pk},
        {"role": "supervisor", "role_label": "督查（只读）", "org_id": city.grid_b.pk},
    ]
    assert body["person"]["id"] == person.pk
    assert body["person"]["id_number_masked"] == "1101**********002X"


def test_json_is_utf8_not_escaped(city, client_a):
    response = client_a.get(f"/api/v1/orgs/{city.community_a.pk}")
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert '"name": "甲社区"' in response.content.decode("utf-8")


def test_route_parameters_use_the_project_names():
    from tests.test_access import all_routes

    params = {name for r in all_routes() if r.is_api for name in r.params}
    assert params == {
        "org_id",
        "person_id",
        "code",
        "volunteer_id",
        "team_id",
        "membership_id",
        "course_id",
        "session_id",
        "activity_id",
        "shift_id",
        "signup_id",
        "record_id",
        "certificate_id",
        "account_id",
        "need_id",
        "invitation_id",
        "offer_id",
        "pairing_id",
        "ticket_id",
        "photo_id",
        "matter_id",
        "notice_id",
        "suggestion_id",
        "contact_id",
    }
