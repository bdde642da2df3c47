from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "huzhu.web"
    label = "web"
    verbose_name = "网站"
