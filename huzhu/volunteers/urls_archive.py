"""Routes of the volunteers app (archive, stars, honours, evaluations)."""

from django.urls import URLPattern, path

from huzhu.volunteers import archive_views as views

urlpatterns: list[URLPattern] = [
    path("stars/", views.star_board, name="stars"),
    path("stars/<int:application_id>/publicity/", views.star_publicity, name="star_publicity"),
    path("stars/<int:application_id>/grant/", views.star_grant, name="star_grant"),
    path("stars/<int:application_id>/reject/", views.star_reject, name="star_reject"),
    path("stars/<int:application_id>/withdraw/", views.star_withdraw, name="star_withdraw"),
    path("<int:volunteer_id>/archive/", views.archive, name="archive"),
    path("<int:volunteer_id>/archive.pdf", views.archive_pdf, name="archive_pdf"),
    path("<int:volunteer_id>/stars/", views.star_status, name="star_status"),
    path("<int:volunteer_id>/stars/bar/", views.star_bar, name="star_bar"),
    path("<int:volunteer_id>/honours/", views.honour_add, name="honour_add"),
    path("honours/<int:honour_id>/remove/", views.honour_remove, name="honour_remove"),
    path("<int:volunteer_id>/evaluations/", views.evaluation_add, name="evaluation_add"),
    path(
        "evaluations/<int:evaluation_id>/remove/",
        views.evaluation_remove,
        name="evaluation_remove",
    ),
]
