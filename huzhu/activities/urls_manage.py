"""The organiser's routes under ``/activities/manage/`` (namespace ``activities``)."""

from django.urls import path

from huzhu.activities import manage_views as views
from huzhu.activities import record_views

urlpatterns: list = [
    path("manage/", views.manage_list, name="manage_list"),
    path("manage/new/", views.activity_create, name="create"),
    path("manage/<int:activity_id>/", views.manage_detail, name="manage_detail"),
    path("manage/<int:activity_id>/edit/", views.activity_edit, name="edit"),
    path("manage/<int:activity_id>/status/", views.set_status, name="set_status"),
    path("manage/<int:activity_id>/beneficiaries/", views.beneficiaries, name="beneficiaries"),
    path("manage/<int:activity_id>/shifts/new/", views.shift_add, name="shift_add"),
    # the shift board
    path("manage/shifts/<int:shift_id>/", views.board, name="board"),
    path("manage/shifts/<int:shift_id>/rows/", views.board_rows, name="board_rows"),
    path("manage/shifts/<int:shift_id>/add/", views.organiser_signup, name="organiser_signup"),
    path("manage/shifts/<int:shift_id>/edit/", views.shift_edit, name="shift_edit"),
    path("manage/shifts/<int:shift_id>/cancel/", views.shift_cancel, name="shift_cancel"),
    path("manage/shifts/<int:shift_id>/no-shows/", views.shift_no_shows, name="shift_no_shows"),
    path("manage/shifts/<int:shift_id>/records/", record_views.shift_records, name="shift_records"),
    path("manage/shifts/<int:shift_id>/confirm/", record_views.shift_confirm, name="shift_confirm"),
    path("manage/shifts/<int:shift_id>/qr/", views.qr, name="qr"),
    path("manage/shifts/<int:shift_id>/qr/code/", views.qr_code, name="qr_code"),
    path("manage/signups/<int:signup_id>/decide/", views.signup_decide, name="signup_decide"),
    path(
        "manage/signups/<int:signup_id>/attendance/",
        views.organiser_check,
        name="organiser_check",
    ),
    path(
        "manage/signups/<int:signup_id>/correct/",
        views.attendance_correct,
        name="attendance_correct",
    ),
    path("manage/signups/<int:signup_id>/remove/", views.signup_remove, name="signup_remove"),
    # service records
    path("manage/records/", record_views.records, name="records"),
    path("manage/records/confirm/", record_views.records_confirm, name="records_confirm"),
    path("manage/records/new/", record_views.record_enter, name="record_enter"),
    path("manage/records/<int:record_id>/", record_views.record_detail, name="record_detail"),
    path(
        "manage/records/<int:record_id>/reject/", record_views.record_reject, name="record_reject"
    ),
    path(
        "manage/records/<int:record_id>/revoke/", record_views.record_revoke, name="record_revoke"
    ),
    path(
        "manage/records/<int:record_id>/correct/",
        record_views.record_correct,
        name="record_correct",
    ),
    path(
        "manage/records/<int:record_id>/evaluate/",
        record_views.record_evaluate,
        name="record_evaluate",
    ),
    # certificates
    path("manage/certificates/", record_views.certificates, name="certificates"),
    path(
        "manage/certificates/<int:certificate_id>/",
        record_views.certificate_detail,
        name="certificate_detail",
    ),
    path(
        "manage/certificates/<int:certificate_id>/issue/",
        record_views.certificate_issue,
        name="certificate_issue",
    ),
    path(
        "manage/certificates/<int:certificate_id>/reject/",
        record_views.certificate_reject,
        name="certificate_reject",
    ),
    path(
        "manage/certificates/<int:certificate_id>/revoke/",
        record_views.certificate_revoke,
        name="certificate_revoke",
    ),
]
