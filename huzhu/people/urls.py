from django.urls import path

from huzhu.people import views

app_name = "people"
urlpatterns = [
    path("", views.person_list, name="list"),
    path("me/", views.me, name="me"),
    path("tags/", views.tags, name="tags"),
]
