from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "huzhu.common"
    label = "common"
    verbose_name = "通用"
