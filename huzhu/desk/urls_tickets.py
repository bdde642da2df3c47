from django.urls import path

from huzhu.desk.placeholder_views import placeholder

urlpatterns = [
    path("tickets/<int:ticket_id>/", placeholder, name="ticket_detail"),
]
