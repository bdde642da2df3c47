import pytest
from django.contrib.auth.models import User
from django.test import Client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/volunteers/servicecategory/",
        "/admin/volunteers/servedgroup/",
        "/admin/volunteers/skill/",
        "/admin/volunteers/qualificationtype/",
        "/admin/people/tag/",
        "/admin/common/workdayoverride/",
    ],
)
def test_superuser_edits_reference_lists_in_the_back_office(url):
    admin = User.objects.create_superuser("root-admin", password="pw-for-tests-123")
    client = Client()
    client.force_login(admin)
    response = client.get(url)
    assert response.status_code == 200


@pytest.mark.django_db
def test_service_categories_listed_from_data():
    admin = User.objects.create_superuser("root-admin", password="pw-for-tests-123")
    client = Client()
    client.force_login(admin)
    page = client.get("/admin/volunteers/servicecategory/").content.decode()
    assert "关爱特殊群体" in page and "应急救援" in page
