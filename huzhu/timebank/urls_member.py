"""The member's time-bank pages (mounted under /timebank/)."""

from django.urls import path

from huzhu.timebank import member_views

urlpatterns = [
    path("", member_views.home, name="home"),
    path("statement/", member_views.statement, name="statement"),
    path("family/", member_views.family, name="family"),
    path("family/<int:link_id>/revoke/", member_views.family_revoke, name="family_revoke"),
    path("transfer/", member_views.transfer, name="transfer"),
    path("donate/", member_views.donate, name="donate"),
]
