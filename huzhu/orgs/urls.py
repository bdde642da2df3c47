from django.urls import path

from huzhu.orgs import views

app_name = "orgs"
urlpatterns = [
    path("", views.tree, name="tree"),
    path("<int:org_id>/", views.detail, name="detail"),
    path("<int:org_id>/children/", views.children, name="children"),
    path("<int:org_id>/children/new/", views.child_create, name="child_create"),
    path("<int:org_id>/edit/", views.edit, name="edit"),
    path("<int:org_id>/grants/new/", views.grant_create, name="grant_create"),
    path("<int:org_id>/accounts/new/", views.account_create, name="account_create"),
    path("grants/<int:grant_id>/revoke/", views.grant_revoke, name="grant_revoke"),
]
