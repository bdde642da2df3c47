"""Activity pages: the volunteer's side (browse, sign up, check in, hours, certificates, the
public verification page, the calendar feed) and the organiser's side under ``manage/``."""

from huzhu.activities.urls_manage import urlpatterns as manage_urls
from huzhu.activities.urls_volunteer import urlpatterns as volunteer_urls

app_name = "activities"
urlpatterns = [*volunteer_urls, *manage_urls]
