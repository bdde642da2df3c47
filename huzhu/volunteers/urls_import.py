"""Routes of the volunteers app (import): upload, preview, commit, error report."""

from django.urls import URLPattern, path

from huzhu.volunteers import import_views

urlpatterns: list[URLPattern] = [
    path("import/", import_views.import_upload, name="import"),
    path("import/<str:token>/", import_views.import_preview, name="import_preview"),
    path("import/<str:token>/commit/", import_views.import_commit, name="import_commit"),
    path("import/<str:token>/report/", import_views.import_report, name="import_report"),
]
