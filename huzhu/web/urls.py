from django.urls import path

from huzhu.web import views

urlpatterns = [
    path("", views.home, name="home"),
]
