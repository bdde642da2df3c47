"""The worker's service desk (desktop): the 工作台, intake, tickets and their actions, the
overdue board, the visitor log, the matter catalogue and the grids' patrol teams."""

from django.urls import path

from huzhu.desk import views_catalogue, views_desk, views_tickets

TICKET = "tickets/<int:ticket_id>/"
ACTIONS = (
    "accept",
    "answer",
    "assign",
    "acknowledge",
    "return",
    "note",
    "extension",
    "extension_decide",
    "resolve",
    "follow_up",
    "close",
    "link",
)

urlpatterns = [
    path("", views_desk.home, name="home"),
    path("intake/", views_desk.intake, name="intake"),
    path("intake/matter/", views_desk.matter_info, name="matter_info"),
    path("tickets/", views_desk.ticket_list, name="ticket_list"),
    path(TICKET, views_tickets.ticket_detail, name="ticket_detail"),
    *[
        path(
            f"{TICKET}{name}/",
            getattr(views_tickets, f"ticket_{name}"),
            name=f"ticket_{name}",
        )
        for name in ACTIONS
    ],
    path(
        f"{TICKET}photos/<int:photo_id>/publish/",
        views_tickets.ticket_photo_publish,
        name="ticket_photo_publish",
    ),
    path(f"{TICKET}reveal/", views_tickets.ticket_reveal, name="ticket_reveal"),
    path(f"{TICKET}print/", views_tickets.ticket_print, name="ticket_print"),
    path("overdue/", views_desk.overdue, name="overdue"),
    path("visitors/", views_desk.visitor_log, name="visitor_log"),
    path("matters/", views_catalogue.matters, name="matters"),
    path("matters/new/", views_catalogue.matter_new, name="matter_new"),
    path("matters/<int:matter_id>/edit/", views_catalogue.matter_edit, name="matter_edit"),
    path("patrols/", views_catalogue.patrols, name="patrols"),
]
