"""Routes of the volunteers app (teams)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
