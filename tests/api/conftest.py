from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from huzhu.api.services import api_token_create


@pytest.fixture
def bearer() -> Callable[..., Client]:
    """``bearer(user)`` → a test client that sends a fresh token of ``user`` on every call."""

    def make(user: object, **kwargs: object) -> Client:
        _, raw = api_token_create(actor=None, user=user, name="tests", **kwargs)
        return Client(headers={"Authorization": f"Bearer {raw}"})

    return make


@pytest.fixture
def client_a(city, bearer) -> Client:
    return bearer(city.worker_a)


@pytest.fixture
def client_b(city, bearer) -> Client:
    return bearer(city.worker_b)
