"""Residents (我要求助, 我的求助), volunteers (邀请, 需求广场, 我的服务供给) and pair helpers."""

from django.urls import path

from huzhu.needs import offer_views, pairing_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("ask/", views.ask, name="ask"),
    path("ask/suggest/", views.suggest, name="suggest"),
    path("board/", views.board, name="board"),
    path("invitations/", views.invitations, name="invitations"),
    path(
        "invitations/<int:invitation_id>/accept/",
        views.invitation_accept,
        name="invitation_accept",
    ),
    path(
        "invitations/<int:invitation_id>/decline/",
        views.invitation_decline,
        name="invitation_decline",
    ),
    path("<int:need_id>/", views.detail, name="detail"),
    path("<int:need_id>/edit/", views.edit, name="edit"),
    path("<int:need_id>/messages/", views.messages, name="messages"),
    path("<int:need_id>/recommend/", views.recommend, name="recommend"),
    path("<int:need_id>/apply/", views.apply, name="apply"),
    path("<int:need_id>/start/", views.start, name="start"),
    path("<int:need_id>/done/", views.done, name="done"),
    path("<int:need_id>/confirm/", views.confirm, name="confirm"),
    path("<int:need_id>/dispute/", views.dispute, name="dispute"),
    path("<int:need_id>/cancel/", views.cancel, name="cancel"),
    path("offers/mine/", offer_views.my_offers, name="my_offers"),
    path("offers/new/", offer_views.offer_new, name="offer_new"),
    path("offers/<int:offer_id>/edit/", offer_views.offer_edit, name="offer_edit"),
    path("pairings/mine/", pairing_views.my_pairings, name="my_pairings"),
    path("pairings/<int:pairing_id>/", pairing_views.pairing_detail, name="pairing_detail"),
    path("pairings/<int:pairing_id>/visit/", pairing_views.pairing_visit, name="pairing_visit"),
]
