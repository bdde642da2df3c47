"""The shared matter catalogue: the civic report categories of DOMAIN.md §6 (from the
civilised-community survey) and common desk matters. Communities add their own."""

from django.db import migrations

CIVIC = [
    ("civic-litter", "垃圾乱堆、背街小巷脏乱", "垃圾 脏乱 背街小巷 卫生 异味", 3),
    ("civic-structure", "违章搭建", "违建 违章 搭建 私搭乱建", 10),
    ("civic-stairwell", "楼道堆物", "楼道 堆物 杂物 消防通道", 3),
    ("civic-flyposting", "乱贴小广告", "小广告 乱贴 乱涂 牛皮癣", 3),
    ("civic-pets", "宠物粪便污染绿地", "宠物 狗 粪便 遛狗 绿地", 3),
    ("civic-fireworks", "违规燃放烟花爆竹", "烟花 爆竹 鞭炮 燃放", 2),
    ("civic-stalls", "占道经营", "占道 摆摊 流动摊贩 堵路", 3),
    ("civic-height", "高空抛物", "高空抛物 扔东西 坠物", 2),
    ("civic-water", "乱倒污水", "污水 倒水 脏水", 3),
]
AFFAIRS = [
    ("affair-certificate", "affair", "开具证明", "社区证明 居住证明 开证明",
     "本人身份证原件\n户口簿或房产证明（居住证明需要）\n委托他人办理的带委托书和双方身份证", 3),
    ("affair-elderly-allowance", "affair", "高龄津贴申领", "高龄 津贴 补贴 老年",
     "老人身份证原件及复印件\n户口簿\n本人银行卡（社保卡）\n代办人身份证", 5),
    ("affair-disability", "affair", "残疾人证办理与补贴", "残疾 残疾证 补贴",
     "本人身份证、户口簿\n近期一寸免冠照片 2 张\n医院诊断证明", 10),
    ("consult-policy", "consult", "政策咨询", "咨询 政策 怎么办", "", 5),
    ("help-difficulty", "help", "困难求助", "困难 求助 帮扶 救助",
     "本人身份证\n家庭收入和困难情况说明（可在社区填写）", 5),
    ("complaint-property", "complaint", "物业服务投诉", "物业 电梯 漏水 保洁 停车", "", 5),
    ("complaint-neighbour", "complaint", "邻里纠纷调解", "邻里 纠纷 噪音 调解", "", 10),
]


def add_matters(apps, schema_editor):
    MatterType = apps.get_model("desk", "MatterType")
    order = 0
    for code, name, keywords, days in CIVIC:
        order += 10
        MatterType.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": "civic",
                "group": "文明评议",
                "keywords": keywords,
                "deadline_days": days,
                "is_public": True,
                "sort_order": order,
                "description": "请拍照并标注地点；反映人信息不对外公开。",
            },
        )
    for code, kind, name, keywords, materials, days in AFFAIRS:
        order += 10
        MatterType.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "group": "便民服务",
                "keywords": keywords,
                "materials": materials,
                "deadline_days": days,
                "is_public": False,
                "sort_order": order,
            },
        )


def remove_matters(apps, schema_editor):
    MatterType = apps.get_model("desk", "MatterType")
    codes = [row[0] for row in CIVIC] + [row[0] for row in AFFAIRS]
    MatterType.objects.filter(code__in=codes, org__isnull=True, tickets__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("desk", "0001_initial")]
    operations = [migrations.RunPython(add_matters, remove_matters)]
