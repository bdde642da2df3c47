from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "huzhu.people"
    label = "people"
    verbose_name = "居民"
