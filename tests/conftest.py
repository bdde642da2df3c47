from __future__ import annotations

import os
from importlib import import_module

import pytest
from django.conf import settings
from django.db import connection
from django.utils import translation

from tests.factories import City


def pytest_collection_modifyitems(config, items):
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords and not on_postgres:
            item.add_marker(skip_pg)


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language (a request may activate another one in
    this thread, and Django leaves it active)."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


# Reference data that data migrations put in place. A transactional test's flush removes it,
# so such tests get it back before they run.
REFERENCE_DATA = (
    ("huzhu.people.migrations.0002_default_tags", "add_tags"),
    ("huzhu.volunteers.migrations.0002_classification_lists", "add_lists"),
    ("huzhu.needs.migrations.0002_need_categories", "add_categories"),
    ("huzhu.desk.migrations.0002_default_matters", "add_matters"),
)


@pytest.fixture(autouse=True)
def reference_data(request):
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    for module, function in REFERENCE_DATA:
        getattr(import_module(module), function)(apps, None)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """Factories hash passwords for every ``city``; PBKDF2 would cost a second per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def city(db) -> City:
    return City()


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"
