from django.urls import path

from huzhu.desk.placeholder_views import placeholder

urlpatterns = [
    path("mine/<int:ticket_id>/", placeholder, name="my_ticket"),
]
