"""Weekly availability as a bit mask: 7 days × 3 periods (上午/下午/晚上) = 21 slots.

Slot codes are ``mon_am``, ``mon_pm``, ``mon_eve`` … ``sun_eve``; bit = day * 3 + period.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PERIODS = ("am", "pm", "eve")
DAY_LABELS = (
    gettext_lazy("周一"),
    gettext_lazy("周二"),
    gettext_lazy("周三"),
    gettext_lazy("周四"),
    gettext_lazy("周五"),
    gettext_lazy("周六"),
    gettext_lazy("周日"),
)
PERIOD_LABELS = (gettext_lazy("上午"), gettext_lazy("下午"), gettext_lazy("晚上"))

SLOTS: tuple[str, ...] = tuple(f"{d}_{p}" for d in DAYS for p in PERIODS)
FULL_MASK = (1 << len(SLOTS)) - 1


def slot_bit(code: str) -> int:
    try:
        return 1 << SLOTS.index(code)
    except ValueError as exc:
        raise ValidationError(_("未知的服务时段：%(c)s") % {"c": code}) from exc


def to_mask(codes: Iterable[str]) -> int:
    mask = 0
    for code in codes:
        mask |= slot_bit(code)
    return mask


def from_mask(mask: int) -> list[str]:
    return [code for i, code in enumerate(SLOTS) if mask & (1 << i)]


def slot_label(code: str) -> str:
    day, period = code.split("_")
    return f"{DAY_LABELS[DAYS.index(day)]}{PERIOD_LABELS[PERIODS.index(period)]}"


def describe(mask: int) -> str:
    """周一上午、周六全天 … for display."""
    parts = []
    for d, day in enumerate(DAYS):
        bits = [(mask >> (d * 3 + p)) & 1 for p in range(3)]
        if all(bits):
            parts.append(f"{DAY_LABELS[d]}{_('全天')}")
        else:
            parts.extend(slot_label(f"{day}_{PERIODS[p]}") for p in range(3) if bits[p])
    return "、".join(parts)


_DAY_WORDS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": -1}
_PERIOD_WORDS = {
    "上午": (0,),
    "早上": (0,),
    "下午": (1,),
    "晚上": (2,),
    "晚间": (2,),
    "白天": (0, 1),
    "全天": (0, 1, 2),
}


def parse_text(text: str) -> int:
    """Read availability as people write it in a register: "周六上午、周日全天", "工作日晚上",
    "周末", "每天下午", "随时". Raises ValidationError naming what was not understood."""
    mask = 0
    text = (text or "").strip()
    if not text:
        return 0
    if text in {"随时", "全部", "都可以", "不限"}:
        return FULL_MASK
    for chunk in re.split(r"[、,，;；/\s]+", text):
        if not chunk:
            continue
        days, rest = _chunk_days(chunk)
        periods: tuple[int, ...] = (0, 1, 2)
        if rest:
            if rest not in _PERIOD_WORDS:
                raise ValidationError(_("无法识别的服务时间：%(t)s") % {"t": chunk})
            periods = _PERIOD_WORDS[rest]
        if days is None:
            raise ValidationError(_("无法识别的服务时间：%(t)s") % {"t": chunk})
        for d in days:
            for p in periods:
                mask |= 1 << (d * 3 + p)
    return mask


def _chunk_days(chunk: str) -> tuple[tuple[int, ...] | None, str]:
    if chunk.startswith(("工作日", "周一至周五")):
        return (0, 1, 2, 3, 4), chunk.split("日", 1)[1] if chunk.startswith("工作日") else chunk[5:]
    if chunk.startswith(("每天", "每日")):
        return tuple(range(7)), chunk[2:]
    if chunk.startswith(("周末", "双休日")):
        return (5, 6), chunk[2:] if chunk.startswith("周末") else chunk[3:]
    match = re.match(r"^(周|星期|礼拜)([一二三四五六日天])(.*)$", chunk)
    if match:
        return (_DAY_WORDS[match.group(2)],), match.group(3)
    if chunk in _PERIOD_WORDS:  # "晚上" alone: every day
        return tuple(range(7)), chunk
    return None, chunk
