"""Test clients: signed in by session (the pages) or by bearer token (the API), plus JSON
calls to /api/v1/activities and a 422's errors as (field, message) pairs."""

from django.contrib.auth import get_user_model
from django.test import Client

from huzhu.api.services import api_token_create
from tests.activities.factories import make_volunteer

URL = "/api/v1/activities"
MISSING = {"detail": "未找到"}


def client_for(user) -> Client:
    """A browser session signed in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


def token_client(user) -> Client:
    _, raw = api_token_create(actor=None, user=user, name="tests")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def volunteer_client(org, name: str, username: str, **kwargs):
    """A new volunteer with a login, and an API client acting as them."""
    volunteer = make_volunteer(org, name, username=username, **kwargs)
    return volunteer, token_client(get_user_model().objects.get(username=username))


def post(client: Client, url: str, payload: dict | None = None):
    return client.post(url, payload or {}, content_type="application/json")


def patch(client: Client, url: str, payload: dict):
    return client.patch(url, payload, content_type="application/json")


def errors(response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.content
    return [(e["field"], e["message"]) for e in response.json()["detail"]]
