"""The starting need categories: what residents most often ask for, each tied to a national
service category (for the service record), the skills that fit, and keywords that let a
free-text description find it. Administrators edit them as data."""

from django.db import migrations

CATEGORIES = [
    ("助餐", "社区服务", ["烹饪"], "助餐 做饭 买菜 送饭 送餐 吃饭 午饭 晚饭 饭菜 配餐 做菜 煮饭", 60),
    (
        "跑腿代办",
        "社区服务",
        ["驾驶"],
        "跑腿 代购 买菜 买药 取药 拿药 取快递 快递 超市 缴费 交费 代办 办事 送东西 取件 排队",
        60,
    ),
    ("助洁", "社区服务", [], "助洁 打扫 保洁 卫生 清洁 擦窗 收拾 整理 洗衣服 拖地", 120),
    ("助浴", "关爱特殊群体", ["护理"], "助浴 洗澡 擦身 洗头", 60),
    (
        "助医陪诊",
        "卫生健康",
        ["医疗", "护理"],
        "陪诊 医院 看病 挂号 复查 体检 就医 住院 输液 陪护 看医生",
        180,
    ),
    ("助行出行", "社区服务", ["驾驶"], "出行 推轮椅 轮椅 上下楼 接送 散步 出门 坐车", 60),
    ("陪伴关怀", "关爱特殊群体", ["心理"], "陪伴 聊天 说说话 孤单 寂寞 探望 看望 读报 陪聊", 60),
    (
        "家居维修",
        "社区服务",
        ["维修", "水电"],
        "维修 修理 水管 漏水 灯泡 换灯 电路 插座 马桶 下水道 堵了 门锁 家电 电视 修",
        90,
    ),
    ("理发", "社区服务", ["理发"], "理发 剪发 剃头 剪头发", 30),
    ("法律咨询", "法律服务", ["法律"], "法律 律师 纠纷 合同 遗嘱 赡养 维权 官司", 60),
    ("心理疏导", "卫生健康", ["心理"], "心理 焦虑 抑郁 情绪 失眠 想不开 疏导", 60),
    ("学业辅导", "支教助学", ["教育", "外语"], "辅导 作业 学习 功课 补课 家教 数学 英语", 90),
    (
        "智能手机教学",
        "科技科普",
        ["计算机"],
        "智能手机 手机 微信 视频通话 健康码 网上 电脑 扫码 支付 打车",
        60,
    ),
    ("康复护理", "卫生健康", ["护理", "急救", "医疗"], "康复 护理 量血压 血压 血糖 换药 按摩 卧床", 60),
    ("其他帮助", "其他", [], "", 60),
]


def add_categories(apps, schema_editor):
    NeedCategory = apps.get_model("needs", "NeedCategory")
    ServiceCategory = apps.get_model("volunteers", "ServiceCategory")
    Skill = apps.get_model("volunteers", "Skill")
    for order, (name, service, skills, keywords, minutes) in enumerate(CATEGORIES):
        service_category, _ = ServiceCategory.objects.get_or_create(name=service)
        category, created = NeedCategory.objects.get_or_create(
            name=name,
            defaults={
                "service_category": service_category,
                "keywords": keywords,
                "default_minutes": minutes,
                "sort_order": order * 10,
            },
        )
        if created:
            category.skills.set(Skill.objects.filter(name__in=skills))


class Migration(migrations.Migration):
    dependencies = [
        ("needs", "0001_initial"),
        ("volunteers", "0002_classification_lists"),
    ]

    operations = [migrations.RunPython(add_categories, migrations.RunPython.noop)]
