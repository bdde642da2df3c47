"""Routes of the volunteers app (registry): registration, review, search, export, detail."""

from django.urls import URLPattern, path

from huzhu.volunteers import views

urlpatterns: list[URLPattern] = [
    path("", views.volunteer_list, name="list"),
    path("lookup/", views.volunteer_lookup, name="lookup"),
    path("export/", views.volunteer_export_view, name="export"),
    path("register/", views.register_self, name="register_self"),
    path("register/orgs/", views.register_orgs, name="register_orgs"),
    path("new/", views.volunteer_create, name="create"),
    path("review/", views.review, name="review"),
    path("mine/", views.mine, name="mine"),
    path("<int:volunteer_id>/", views.volunteer_detail, name="detail"),
    path("<int:volunteer_id>/edit/", views.volunteer_edit, name="edit"),
    path("<int:volunteer_id>/status/", views.volunteer_set_status, name="status"),
]
