"""Notice boards with moderation, the suggestion box and the public contacts."""

from django.urls import path

from huzhu.desk import views_board as views

urlpatterns = [
    path("notices/", views.notices, name="notices"),
    path("notices/new/", views.notice_new, name="notice_new"),
    path("notices/<int:notice_id>/", views.notice_detail, name="notice_detail"),
    path("notices/<int:notice_id>/moderate/", views.notice_moderate, name="notice_moderate"),
    path("notices/<int:notice_id>/withdraw/", views.notice_withdraw, name="notice_withdraw"),
    path("suggest/", views.suggest, name="suggest"),
    path("suggest/mine/", views.my_suggestions, name="my_suggestions"),
    path("suggestions/", views.suggestions, name="suggestions"),
    path(
        "suggestions/<int:suggestion_id>/",
        views.suggestion_detail,
        name="suggestion_detail",
    ),
    path(
        "suggestions/<int:suggestion_id>/reply/",
        views.suggestion_reply,
        name="suggestion_reply",
    ),
    path("contacts/", views.contacts, name="contacts"),
    path("contacts/<int:contact_id>/delete/", views.contact_delete, name="contact_delete"),
    path("contacts/phones/<int:org_id>/", views.community_phones, name="community_phones"),
]
