"""The public page of a community (no login): phones, grid contacts, boards, suggestions."""

from django.urls import path

from huzhu.desk import views_public_pages

urlpatterns = [
    path(
        "public/<int:org_id>/",
        views_public_pages.public_community,
        name="public_community",
    ),
]
