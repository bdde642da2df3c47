"""Free-text Chinese needs find their categories (jieba and the categories' keywords)."""

from __future__ import annotations

import pytest

from huzhu.needs.classify import suggest_categories
from huzhu.needs.models import NeedCategory
from huzhu.volunteers.models import ServiceCategory

pytestmark = pytest.mark.django_db


def suggested(text: str, limit: int = 3) -> list[tuple[str, int, tuple[str, ...]]]:
    return [(s.category.name, s.score, s.keywords) for s in suggest_categories(text, limit=limit)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("帮我买菜", [("助餐", 2, ("买菜",)), ("跑腿代办", 2, ("买菜",))]),
        ("陪我去医院看病", [("助医陪诊", 4, ("医院", "看病"))]),
        ("家里水管漏水了", [("家居维修", 4, ("水管", "漏水"))]),
        ("教我用微信视频", [("智能手机教学", 2, ("微信",))]),
        ("想剪头发", [("理发", 2, ("剪头发",))]),
        ("帮忙取快递", [("跑腿代办", 3, ("取快递", "快递"))]),
    ],
)
def test_descriptions_find_their_categories(text, expected):
    assert suggested(text) == expected


@pytest.mark.parametrize("text", ["阿巴阿巴", "今天天气不错", "xyz 123", "", "   "])
def test_nonsense_finds_nothing(text):
    assert suggest_categories(text) == []


def test_the_best_come_first_and_the_limit_holds():
    text = "帮我买菜做饭，再陪我去医院看病挂号"
    names = [name for name, _score, _words in suggested(text, limit=5)]
    assert names == ["助医陪诊", "助餐", "跑腿代办"]
    assert [name for name, _score, _words in suggested(text, limit=1)] == ["助医陪诊"]


def test_a_keyword_an_administrator_adds_works_at_once():
    assert suggest_categories("帮我遛狗") == []
    errands = NeedCategory.objects.get(name="跑腿代办")
    errands.keywords += "，遛狗、喂猫"
    errands.save()
    assert suggested("帮我遛狗") == [("跑腿代办", 2, ("遛狗",))]
    assert suggested("出差帮我喂猫") == [("跑腿代办", 2, ("喂猫",))]


def test_a_new_category_is_found_by_its_name_and_keywords_and_a_retired_one_is_not():
    created = NeedCategory.objects.create(
        name="宠物照护",
        service_category=ServiceCategory.objects.get(name="社区服务"),
        keywords="宠物 猫砂 狗粮",
    )
    # the keyword as a word (2) and the category's name within the text (1)
    assert suggested("需要宠物照护") == [("宠物照护", 3, ("宠物", "宠物照护"))]
    assert suggested("买狗粮") == [("宠物照护", 2, ("狗粮",))]
    created.is_active = False
    created.save()
    assert suggested("买狗粮") == []
