from django.urls import path

from huzhu.people import views

app_name = "people"
urlpatterns = [
    path("", views.person_list, name="list"),
    path("lookup/", views.person_lookup, name="lookup"),
    path("new/", views.person_create, name="create"),
    path("me/", views.me, name="me"),
    path("tags/", views.tags, name="tags"),
    path("<int:person_id>/", views.person_detail, name="detail"),
    path("<int:person_id>/edit/", views.person_edit, name="edit"),
    path("<int:person_id>/reveal/", views.person_reveal, name="reveal"),
]
