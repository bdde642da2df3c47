"""Volunteer pages. Each part of the app keeps its routes in its own module."""

from huzhu.volunteers.urls_archive import urlpatterns as archive_urls
from huzhu.volunteers.urls_import import urlpatterns as import_urls
from huzhu.volunteers.urls_registry import urlpatterns as registry_urls
from huzhu.volunteers.urls_teams import urlpatterns as teams_urls

app_name = "volunteers"
urlpatterns = [*registry_urls, *import_urls, *archive_urls, *teams_urls]
