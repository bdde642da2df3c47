"""The worker's side: the need board, posting for residents, the matching screen, disputes,
offers of units in the area, and 结对帮扶."""

from django.urls import path

from huzhu.needs import manage_views, pairing_views

urlpatterns = [
    path("manage/", manage_views.need_list, name="manage_list"),
    path("manage/new/", manage_views.need_new, name="manage_new"),
    path("manage/<int:need_id>/", manage_views.need_detail, name="manage_detail"),
    path("manage/<int:need_id>/invite/", manage_views.invite, name="manage_invite"),
    path("manage/<int:need_id>/broadcast/", manage_views.broadcast, name="manage_broadcast"),
    path(
        "manage/<int:need_id>/applications/<int:invitation_id>/approve/",
        manage_views.application_approve,
        name="application_approve",
    ),
    path(
        "manage/<int:need_id>/applications/<int:invitation_id>/decline/",
        manage_views.application_decline,
        name="application_decline",
    ),
    path(
        "manage/<int:need_id>/dispute/return/",
        manage_views.dispute_return,
        name="dispute_return",
    ),
    path("manage/<int:need_id>/dispute/close/", manage_views.dispute_close, name="dispute_close"),
    path("manage/offers/", manage_views.offer_list, name="manage_offers"),
    path("manage/offers/new/", manage_views.unit_offer_new, name="manage_offer_new"),
    path("manage/pairings/", pairing_views.manage_pairings, name="manage_pairings"),
    path("manage/pairings/new/", pairing_views.pairing_new, name="pairing_new"),
    path("manage/pairings/<int:pairing_id>/end/", pairing_views.pairing_end, name="pairing_end"),
]
