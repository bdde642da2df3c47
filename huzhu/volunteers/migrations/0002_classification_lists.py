"""The starting classification lists (DOMAIN.md §4); administrators edit them as data."""

from django.db import migrations

CATEGORIES = [
    "社区服务",
    "扶贫减贫",
    "支教助学",
    "卫生健康",
    "法律服务",
    "环境保护",
    "科技科普",
    "文化艺术",
    "平安综治",
    "文明风尚",
    "交通引导",
    "志愿消防",
    "应急救援",
    "禁毒宣传",
    "体育健身",
    "旅游服务",
    "关爱特殊群体",
    "大型活动",
    "疫情防控",
    "其他",
]
SERVED_GROUPS = [
    "儿童",
    "妇女",
    "老年人",
    "残障人士",
    "优抚对象",
    "困难家庭",
    "病患者",
    "城镇居民",
    "社会公众",
    "其他",
]
CURATED_SKILLS = [
    "医疗",
    "护理",
    "法律",
    "心理",
    "维修",
    "水电",
    "驾驶",
    "教育",
    "文艺",
    "计算机",
    "外语",
    "手语",
    "摄影",
    "烹饪",
    "理发",
    "急救",
    "财会",
    "书法",
]
QUALIFICATION_TYPES = [
    ("急救证", 36),
    ("心理咨询师", None),
    ("执业医师", None),
    ("护士执业证书", 60),
    ("律师执业证", None),
    ("机动车驾驶证", 72),
    ("社会工作者职业资格", None),
    ("电工证", 72),
]


def add_lists(apps, schema_editor):
    def fill(model_name, names, **extra):
        model = apps.get_model("volunteers", model_name)
        for order, name in enumerate(names):
            model.objects.get_or_create(name=name, defaults={"sort_order": order * 10, **extra})

    fill("ServiceCategory", CATEGORIES)
    fill("ServedGroup", SERVED_GROUPS)
    fill("Skill", CURATED_SKILLS, is_curated=True)
    kinds = apps.get_model("volunteers", "QualificationType")
    for order, (name, months) in enumerate(QUALIFICATION_TYPES):
        kinds.objects.get_or_create(
            name=name, defaults={"sort_order": order * 10, "validity_months": months}
        )


class Migration(migrations.Migration):
    dependencies = [("volunteers", "0001_initial")]
    operations = [migrations.RunPython(add_lists, migrations.RunPython.noop)]
