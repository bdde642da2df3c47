from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from huzhu.api.api import api

urlpatterns = [
    path("", include("huzhu.web.urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="web/login.html"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("orgs/", include("huzhu.orgs.urls")),
    path("people/", include("huzhu.people.urls")),
    path("volunteers/", include("huzhu.volunteers.urls")),
    path("activities/", include("huzhu.activities.urls")),
    path("timebank/", include("huzhu.timebank.urls")),
    path("needs/", include("huzhu.needs.urls")),
    path("desk/", include("huzhu.desk.urls")),
    path("open311/v2/", include("huzhu.desk.open311.urls")),
    path("history/", include("huzhu.common.urls")),
    path("notifications/", include("huzhu.common.notification_urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
