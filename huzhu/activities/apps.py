from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "huzhu.activities"
    label = "activities"
    verbose_name = "志愿活动"
