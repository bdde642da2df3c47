"""Routes of the volunteers app (registry)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
