from django.urls import path

from huzhu.common import notification_views

app_name = "notifications"
urlpatterns = [
    path("", notification_views.inbox, name="inbox"),
    path("read/", notification_views.mark_read, name="mark_read"),
]
