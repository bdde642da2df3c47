import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from huzhu.common.models import Notification
from huzhu.common.services import notify


@pytest.mark.django_db
def test_notify_is_idempotent_with_a_dedupe_key(city):
    first = notify(user=city.worker_a, kind="test", title="急救证即将到期", dedupe_key="q:1")
    again = notify(user=city.worker_a, kind="test", title="急救证即将到期", dedupe_key="q:1")
    assert first is not None and again is None
    assert Notification.objects.filter(user=city.worker_a).count() == 1


@pytest.mark.django_db
def test_inbox_shows_only_own_notifications_and_marks_read(city):
    notify(user=city.worker_a, kind="test", title="甲的通知")
    notify(user=city.worker_b, kind="test", title="乙的通知")
    client = Client()
    client.force_login(city.worker_a)
    page = client.get("/notifications/").content.decode()
    assert "甲的通知" in page and "乙的通知" not in page
    assert 'class="badge rounded-pill text-bg-danger">1<' in page
    response = client.post("/notifications/read/")
    assert response.status_code == 302
    assert Notification.objects.get(title="甲的通知").read_at is not None
    assert Notification.objects.get(title="乙的通知").read_at is None


@pytest.mark.django_db
def test_inbox_query_count_does_not_grow(city):
    client = Client()
    client.force_login(city.worker_a)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/notifications/").status_code == 200
        return len(queries)

    for i in range(3):
        notify(user=city.worker_a, kind="test", title=f"通知{i}")
    small = count()
    for i in range(20):
        notify(user=city.worker_a, kind="test", title=f"更多{i}")
    assert count() == small
