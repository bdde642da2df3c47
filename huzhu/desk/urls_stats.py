from django.urls import path

from huzhu.desk import views_stats

urlpatterns = [
    path("stats/", views_stats.stats_page, name="stats"),
    path("stats/export/", views_stats.stats_export, name="stats_export"),
]
