from django.apps import AppConfig


class NeedsConfig(AppConfig):
    name = "huzhu.needs"
    label = "needs"
    verbose_name = "需求对接"
