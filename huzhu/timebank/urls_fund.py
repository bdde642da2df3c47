"""团体时长 and the 保障基金 at the counter, under ``/timebank/counter/`` (namespace
``timebank``)."""

from django.urls import path

from huzhu.timebank import fund_views as views

urlpatterns = [
    path("counter/teams/", views.teams, name="teams"),
    path("counter/teams/<int:team_id>/donate/", views.team_donate, name="team_donate"),
    path("counter/fund/", views.fund, name="fund"),
    path("counter/fund/<int:org_id>/", views.fund_org, name="fund_org"),
]
