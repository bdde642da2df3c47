"""The starting list of resident tags; administrators edit it as data afterwards."""

from django.db import migrations

DEFAULT_TAGS = [
    ("独居老人", "elderly", False),
    ("空巢老人", "elderly", False),
    ("孤寡老人", "elderly", False),
    ("高龄老人", "elderly", False),
    ("失能半失能", "elderly", True),
    ("残疾", "difficulty", True),
    ("低保", "difficulty", True),
    ("特困供养", "difficulty", True),
    ("下岗失业", "difficulty", True),
    ("重病患者", "difficulty", True),
    ("优抚对象", "special_care", False),
    ("留守儿童", "special_care", True),
    ("流动人口", "other", False),
    ("租户", "other", False),
]


def add_tags(apps, schema_editor):
    Tag = apps.get_model("people", "Tag")
    for order, (name, category, sensitive) in enumerate(DEFAULT_TAGS):
        Tag.objects.get_or_create(
            name=name,
            defaults={"category": category, "is_sensitive": sensitive, "sort_order": order * 10},
        )


def remove_tags(apps, schema_editor):
    apps.get_model("people", "Tag").objects.filter(name__in=[t[0] for t in DEFAULT_TAGS]).delete()


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]
    operations = [migrations.RunPython(add_tags, remove_tags)]
