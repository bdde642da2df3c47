"""Routes of the volunteers app (archive)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
