from django.urls import path

from huzhu.common import views

app_name = "common"
urlpatterns = [
    path("person/<int:person_id>/", views.person_history, name="person_history"),
    path("org/<int:org_id>/", views.org_history, name="org_history"),
]
