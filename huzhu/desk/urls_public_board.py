"""The public board of civic reports (no login) and the photos of tickets."""

from django.urls import path

from huzhu.desk import views_public

urlpatterns = [
    path("public/reports/", views_public.board, name="public_reports"),
    path("public/reports/<int:ticket_id>/", views_public.report, name="public_report"),
    path("photos/<int:photo_id>/", views_public.photo, name="photo"),
]
