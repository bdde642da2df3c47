from django.apps import AppConfig


class VolunteersConfig(AppConfig):
    name = "huzhu.volunteers"
    label = "volunteers"
    verbose_name = "志愿者"
