"""Free-text Chinese needs to need categories: "帮我买菜" → 跑腿代办, 助餐.

The description is segmented with jieba, the categories' keywords added to its dictionary so
that domain words (买菜, 陪诊, 修水管) stay whole. A category scores by the keywords found among
the words (whole-word hits count double) and, as a fallback for words jieba splits differently,
by keywords found anywhere in the text. The keyword lists are data (``NeedCategory.keywords``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from huzhu.needs.models import NeedCategory

_lock = threading.Lock()
_added: set[str] = set()


@dataclass(frozen=True)
class Suggestion:
    category: NeedCategory
    score: int
    keywords: tuple[str, ...]


def _segment(text: str, keywords: set[str]) -> list[str]:
    import jieba

    with _lock:
        if not _added:
            jieba.setLogLevel(logging.WARNING)
        for word in keywords - _added:
            jieba.add_word(word, freq=20000)
            _added.add(word)
        return jieba.lcut(text)


def suggest_categories(text: str, *, limit: int = 3) -> list[Suggestion]:
    """Categories the text suggests, best first (at most ``limit``); empty when none fits."""
    text = text.strip()
    if not text:
        return []
    categories = list(NeedCategory.objects.filter(is_active=True))
    all_keywords = {word for category in categories for word in category.keyword_list}
    words = set(_segment(text, all_keywords))
    found: list[Suggestion] = []
    for category in categories:
        hits = [w for w in category.keyword_list if w in words or w in text]
        if category.name in text and category.name not in hits:
            hits.append(category.name)
        if not hits:
            continue
        score = sum(2 if word in words else 1 for word in hits)
        found.append(Suggestion(category, score, tuple(hits)))
    found.sort(key=lambda s: (-s.score, s.category.sort_order, s.category.pk))
    return found[:limit]
