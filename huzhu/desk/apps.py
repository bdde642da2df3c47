from django.apps import AppConfig


class DeskConfig(AppConfig):
    name = "huzhu.desk"
    label = "desk"
    verbose_name = "服务台"
