"""Needs pages: the resident's and volunteer's side (mobile, large type) and the worker's
matching desk (desktop)."""

from huzhu.needs.urls_manage import urlpatterns as manage_urls
from huzhu.needs.urls_people import urlpatterns as people_urls

app_name = "needs"
urlpatterns = [*people_urls, *manage_urls]
