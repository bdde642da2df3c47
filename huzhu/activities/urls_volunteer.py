"""Routes of the volunteer's activity pages, the public certificate verification page and
the calendar feed (all under ``/activities/``)."""

from django.urls import URLPattern, path

from huzhu.activities import volunteer_views as views

urlpatterns: list[URLPattern] = [
    path("", views.browse, name="browse"),
    path("<int:activity_id>/", views.activity_detail, name="detail"),
    path("shifts/<int:shift_id>/signup/", views.signup, name="signup"),
    path("signups/<int:signup_id>/withdraw/", views.withdraw, name="withdraw"),
    path("mine/", views.my_shifts, name="my_shifts"),
    path("scan/", views.scan, name="scan"),
    path("checkin/", views.checkin_code, name="checkin_code"),
    path("hours/", views.my_hours, name="my_hours"),
    path("hours/declare/", views.declare, name="declare"),
    path("certificates/", views.my_certificates, name="my_certificates"),
    path(
        "certificates/<int:certificate_id>/pdf/",
        views.certificate_pdf,
        name="certificate_pdf",
    ),
    path("ical/reset/", views.ical_reset, name="ical_reset"),
    # public: no sign-in (a certificate's reader; a calendar app holding a secret token)
    path("verify/", views.verify, name="verify"),
    path("ical/<str:feed_token>.ics", views.ical_feed, name="ical"),
]
