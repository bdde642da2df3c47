# Placeholder routes, replaced by the volunteer pages.
from django.http import HttpResponse
from django.urls import path


def _todo(request, **kwargs):  # noqa: ANN001
    return HttpResponse(status=404)


urlpatterns: list = [
    path("<int:activity_id>/", _todo, name="detail"),
    path("hours/", _todo, name="my_hours"),
    path("certificates/", _todo, name="my_certificates"),
]
