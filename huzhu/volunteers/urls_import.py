"""Routes of the volunteers app (import)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
