"""The resident's side on the phone: 我要反映, 我的事项, a matter's progress and rating."""

from django.urls import path

from huzhu.desk import views_resident

urlpatterns = [
    path("report/", views_resident.report, name="report"),
    path("mine/", views_resident.my_tickets, name="my_tickets"),
    path("mine/<int:ticket_id>/", views_resident.my_ticket, name="my_ticket"),
    path("mine/<int:ticket_id>/rate/", views_resident.my_ticket_rate, name="my_ticket_rate"),
    path(
        "mine/<int:ticket_id>/withdraw/",
        views_resident.my_ticket_withdraw,
        name="my_ticket_withdraw",
    ),
]
