import pytest
from django.test import Client

from tests.activities.clients import client_for, token_client


@pytest.fixture
def worker_a(city) -> Client:
    """worker-a (community A) signed in to the pages."""
    return client_for(city.worker_a)


@pytest.fixture
def worker_b(city) -> Client:
    """worker-b (community B) signed in to the pages."""
    return client_for(city.worker_b)


@pytest.fixture
def client_a(city) -> Client:
    """An API client of worker-a (community A)."""
    return token_client(city.worker_a)


@pytest.fixture
def client_b(city) -> Client:
    """An API client of worker-b (community B)."""
    return token_client(city.worker_b)
