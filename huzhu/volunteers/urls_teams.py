"""Routes of the volunteers app (teams, training and qualifications)."""

from django.urls import URLPattern, path

from huzhu.volunteers import team_views, training_views

urlpatterns: list[URLPattern] = [
    # organisation: corps and teams
    path("teams/", team_views.teams, name="teams"),
    path("teams/corps/", team_views.corps_ensure, name="corps_ensure"),
    path("teams/new/", team_views.team_create, name="team_create"),
    path("teams/<int:team_id>/", team_views.team_detail, name="team_detail"),
    path("teams/<int:team_id>/candidates/", team_views.team_candidates, name="team_candidates"),
    path("teams/<int:team_id>/members/", team_views.team_member_add, name="team_member_add"),
    path(
        "teams/members/<int:membership_id>/role/",
        team_views.team_member_role,
        name="team_member_role",
    ),
    path(
        "teams/members/<int:membership_id>/remove/",
        team_views.team_member_remove,
        name="team_member_remove",
    ),
    # training
    path("training/", training_views.training, name="training"),
    path("training/courses/new/", training_views.course_create, name="course_create"),
    path("training/courses/<int:course_id>/", training_views.course_detail, name="course_detail"),
    path("training/courses/<int:course_id>/edit/", training_views.course_edit, name="course_edit"),
    path(
        "training/courses/<int:course_id>/sessions/",
        training_views.session_create,
        name="session_create",
    ),
    path(
        "training/sessions/<int:session_id>/",
        training_views.session_detail,
        name="session_detail",
    ),
    # qualifications
    path(
        "<int:volunteer_id>/qualifications/",
        training_views.qualifications,
        name="qualifications",
    ),
    path(
        "qualifications/expiring/",
        training_views.qualifications_expiring,
        name="qualifications_expiring",
    ),
    path(
        "qualifications/<int:qualification_id>/",
        training_views.qualification_edit,
        name="qualification_edit",
    ),
    path(
        "qualifications/<int:qualification_id>/remove/",
        training_views.qualification_remove,
        name="qualification_remove",
    ),
]
