"""Forms of the worker's matching desk. They parse input only; the rules live in
``needs.services``, whose ``ValidationError`` messages are put back next to the field they
name."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huzhu.activities.manage_forms import ServiceForm
from huzhu.needs import manage_selectors
from huzhu.needs.models import NeedStatus, Payment, Urgency
from huzhu.needs.selectors import NeedFilters
from huzhu.needs.services import NeedInput, OfferInput
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.forms import looks_like_full_number
from huzhu.volunteers import selectors as volunteer_selectors
from huzhu.volunteers.availability import (
    DAY_LABELS,
    DAYS,
    PERIOD_LABELS,
    PERIODS,
    SLOTS,
    from_mask,
    slot_label,
    to_mask,
)
from huzhu.web.forms import choice_filter, model_filter

NEED_NUMBER = re.compile(r"^XQ\d+$", re.IGNORECASE)  # a need's number is not personal
SEARCH_HINT = _("请用标题、描述、需求编号或求助人姓名搜索，不要输入完整证件号或手机号。")

# Quick time windows (the same as the resident's form): start and end hour.
DAY_PERIODS = {"am": (8, 12), "pm": (14, 18), "eve": (18, 21)}
PERIOD_CHOICES = (
    ("am", _("上午（8–12 点）")),
    ("pm", _("下午（14–18 点）")),
    ("eve", _("晚上（18–21 点）")),
    ("exact", _("指定时间")),
)
ORG_PAYMENTS = (Payment.POOL, Payment.NONE)


def _text(**attrs: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"class": "form-control", **attrs})


def _textarea(rows: int = 3, **attrs: Any) -> forms.Textarea:
    return forms.Textarea(attrs={"class": "form-control", "rows": rows, **attrs})


def _number(**attrs: Any) -> forms.NumberInput:
    return forms.NumberInput(attrs={"class": "form-control", **attrs})


def _select() -> forms.Select:
    return forms.Select(attrs={"class": "form-select"})


def _checkboxes() -> forms.CheckboxSelectMultiple:
    return forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})


def _date() -> forms.DateInput:
    return forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d")


def _time() -> forms.TimeInput:
    return forms.TimeInput(attrs={"class": "form-control", "type": "time"}, format="%H:%M")


def _coordinate(label: Any, limit: int, help_text: Any = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        max_digits=9,
        decimal_places=6,
        min_value=Decimal(-limit),
        max_value=Decimal(limit),
        help_text=help_text,
        widget=_number(step="0.000001"),
    )


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


# --- the need board ----------------------------------------------------------------------------

SORTS = {
    "": ("-created_at", "-id"),
    "starts_at": ("starts_at", "id"),
    "-starts_at": ("-starts_at", "-id"),
    "-urgency": ("-urgency", "starts_at", "id"),  # urgent > soon > normal, as text too
    "number": ("number",),
    "-number": ("-number",),
}
SORT_CHOICES = (
    ("", _("最新发布")),
    ("starts_at", _("开始时间（最早在前）")),
    ("-starts_at", _("开始时间（最晚在前）")),
    ("-urgency", _("紧急程度（紧急在前）")),
    ("number", _("需求编号")),
    ("-number", _("需求编号（倒序）")),
)


class NeedFilterForm(forms.Form):
    """The GET form of the need board (and its export)."""

    q = forms.CharField(
        label=_("搜索"),
        required=False,
        widget=forms.TextInput(
            attrs={
                "class": "form-control",
                "type": "search",
                "placeholder": _("标题、描述、编号或求助人姓名"),
                "autocomplete": "off",
                "maxlength": 50,
            }
        ),
    )
    status = choice_filter(_("状态"), NeedStatus.choices, _("全部状态"))
    category = model_filter(_("需求类别"), _("全部类别"))
    urgency = choice_filter(_("紧急程度"), Urgency.choices, _("全部"))
    payment = choice_filter(_("支付方式"), Payment.choices, _("全部"))
    org = model_filter(_("社区/网格"), _("全部社区"))
    date_from = forms.DateField(label=_("开始日期从"), required=False, widget=_date())
    date_to = forms.DateField(label=_("至"), required=False, widget=_date())
    unmatched = forms.BooleanField(
        label=_("仅看待匹配"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    sort = forms.ChoiceField(
        label=_("排序"), required=False, choices=SORT_CHOICES, widget=_select()
    )

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = manage_selectors.category_choices()
        self.fields["org"].queryset = manage_selectors.need_orgs(scope=scope)

    def clean_q(self) -> str:
        text = (self.cleaned_data.get("q") or "").strip()[:50]
        if looks_like_full_number(text) and not NEED_NUMBER.match(text):
            raise ValidationError(SEARCH_HINT)
        return text

    def _data(self) -> dict[str, Any]:
        """The valid filters; an invalid one is dropped, the others still apply."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return self.cleaned_data

    def filters(self) -> NeedFilters:
        data = self._data()
        category, org = data.get("category"), data.get("org")
        return NeedFilters(
            status=data.get("status") or "",
            category_id=category.pk if category else None,
            urgency=data.get("urgency") or "",
            org_id=org.pk if org else None,
            payment=data.get("payment") or "",
            text=data.get("q") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            unmatched_only=bool(data.get("unmatched")),
        )

    def ordering(self) -> tuple[str, ...]:
        return SORTS.get(self._data().get("sort") or "", SORTS[""])

    def describe(self) -> str:
        """The filter in words, for the export's audit entry: "状态：待匹配；类别：助餐"."""
        data = self._data()
        parts = []
        for name in ("status", "category", "urgency", "payment", "org", "q", "date_from"):
            value = data.get(name)
            if not value:
                continue
            field = self.fields[name]
            if isinstance(field, forms.ChoiceField) and not isinstance(
                field, forms.ModelChoiceField
            ):
                value = dict(field.choices).get(value, value)
            parts.append(f"{field.label}：{value}")
        if data.get("date_to"):
            parts.append(f"{_('开始日期至')}：{data['date_to']}")
        if data.get("unmatched"):
            parts.append(str(_("仅看待匹配")))
        return "；".join(str(p) for p in parts) or str(_("全部"))


# --- posting a need for a resident or an org -------------------------------------------------


class RequesterSearchForm(forms.Form):
    """A name, pinyin (initials) or the last digits of an ID number — never a full number."""

    q = forms.CharField(
        label=_("查找求助居民"),
        required=False,
        max_length=30,
        widget=_text(placeholder=_("姓名、拼音首字母（如 zs）或证件号后四位"), autocomplete="off"),
    )

    def clean_q(self) -> str:
        text = (self.cleaned_data.get("q") or "").strip()
        if looks_like_full_number(text):
            raise ValidationError(
                _("请勿输入完整证件号或手机号，请用姓名、拼音或证件号后四位查找。")
            )
        return text

    def text(self) -> str:
        return self.cleaned_data.get("q", "") if self.is_valid() else ""


class NeedForm(ServiceForm):
    """代发需求: for a resident (``org_mode`` False) or in an org's name (``org_mode`` True:
    the org is chosen, and the payment is the pool's or none)."""

    error_fields = {
        "starts_at": "day",
        "ends_at": "end_time",
        "qualification_ids": "qualifications",
    }

    org = forms.ModelChoiceField(
        label=_("发布社区/网格"), queryset=None, empty_label=_("请选择"), widget=_select()
    )
    description = forms.CharField(
        label=_("需求描述"),
        required=False,  # the service says what is missing in its own words
        max_length=1000,
        widget=_textarea(4, placeholder=_("请说说需要什么帮助，如：帮我买菜，腿脚不方便下楼")),
    )
    category = forms.ModelChoiceField(
        label=_("需求类别"),
        queryset=None,
        required=False,
        empty_label=_("根据描述自动识别"),
        widget=_select(),
    )
    title = forms.CharField(
        label=_("标题"),
        required=False,
        max_length=60,
        help_text=_("可不填，默认取描述的第一行"),
        widget=_text(),
    )
    day = forms.DateField(label=_("日期"), widget=_date())
    period = forms.ChoiceField(
        label=_("时段"),
        choices=PERIOD_CHOICES,
        initial="am",
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    start_time = forms.TimeField(label=_("开始时间"), required=False, widget=_time())
    end_time = forms.TimeField(label=_("结束时间"), required=False, widget=_time())
    end_day = forms.DateField(
        label=_("结束日期"),
        required=False,
        help_text=_("跨天的需求填写，最长 7 天"),
        widget=_date(),
    )
    address = forms.CharField(label=_("服务地点"), required=False, max_length=200, widget=_text())
    latitude = _coordinate(_("纬度"), 90, _("可不填；不填时按所在网格或社区的位置匹配"))
    longitude = _coordinate(_("经度"), 180)
    urgency = forms.ChoiceField(
        label=_("紧急程度"), choices=Urgency.choices, initial=Urgency.NORMAL, widget=_select()
    )
    payment = forms.ChoiceField(
        label=_("支付方式"), choices=Payment.choices, initial=Payment.REQUESTER, widget=_select()
    )
    minutes = forms.IntegerField(
        label=_("预计时长（分钟）"),
        required=False,
        help_text=_("可不填，按类别的常用时长"),
        widget=_number(min="1"),
    )
    qualifications = forms.ModelMultipleChoiceField(
        label=_("所需证书"), queryset=None, required=False, widget=_checkboxes()
    )

    def __init__(self, *args: Any, scope: Scope, org_mode: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.org_mode = org_mode
        if org_mode:
            self.fields["org"].queryset = manage_selectors.need_orgs(
                scope=scope, perm=Perm.NEED_MANAGE
            )
            payment = self.fields["payment"]
            payment.choices = [(v, label) for v, label in Payment.choices if v in ORG_PAYMENTS]
            payment.initial = Payment.POOL
        else:
            del self.fields["org"]
        self.fields["category"].queryset = manage_selectors.category_choices()
        self.fields["qualifications"].queryset = volunteer_selectors.qualification_type_choices()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        day = data.get("day")
        if day is None:
            return data
        if data.get("period") == "exact":
            start, end = data.get("start_time"), data.get("end_time")
            if start is None:
                self.add_error("start_time", _("请填写开始时间。"))
            if end is None:
                self.add_error("end_time", _("请填写结束时间。"))
            if start is None or end is None:
                return data
        else:
            first, last = DAY_PERIODS.get(data.get("period") or "am", DAY_PERIODS["am"])
            start, end = dt.time(first), dt.time(last)
        end_day = data.get("end_day") or day
        data["starts_at"] = timezone.make_aware(dt.datetime.combine(day, start))
        data["ends_at"] = timezone.make_aware(dt.datetime.combine(end_day, end))
        return data

    def need_input(self) -> NeedInput:
        data = self.cleaned_data
        return NeedInput(
            description=data.get("description") or "",
            address=data.get("address") or "",
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            category=data.get("category"),
            title=data.get("title") or "",
            urgency=data["urgency"],
            payment=data["payment"],
            minutes=data.get("minutes"),
            latitude=_float(data.get("latitude")),
            longitude=_float(data.get("longitude")),
            qualification_ids=[q.pk for q in data.get("qualifications") or []],
        )


def tomorrow() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=1)


# --- the matching screen ---------------------------------------------------------------------

RATING_CHOICES = (
    ("", _("暂不评价")),
    ("5", _("5 星（非常满意）")),
    ("4", _("4 星（满意）")),
    ("3", _("3 星（一般）")),
    ("2", _("2 星（不太满意）")),
    ("1", _("1 星（不满意）")),
)


class ConfirmOnBehalfForm(forms.Form):
    """代为确认: shown on the matching screen, posted to ``needs:confirm`` (the resident's
    confirmation handles it), with ``next`` bringing the worker back."""

    rating = forms.ChoiceField(
        label=_("评分"), required=False, choices=RATING_CHOICES, widget=_select()
    )
    comment = forms.CharField(label=_("评价"), required=False, max_length=200, widget=_text())
    minutes = forms.IntegerField(
        label=_("认定服务时长（分钟）"),
        required=False,
        help_text=_("不填则按志愿者填报的时长"),
        widget=_number(min="1"),
    )
    consent = forms.CharField(
        label=_("求助人同意记录"),
        required=False,  # the service refuses a missing consent in its own words
        max_length=200,
        help_text=_("时间币支付的需求必填，如“本人电话同意（11-29 10:00）”"),
        widget=_text(),
    )


# --- units' offers ---------------------------------------------------------------------------


class OfferFilterForm(forms.Form):
    category = model_filter(_("服务类别"), _("全部类别"))
    units = forms.BooleanField(
        label=_("仅看单位服务"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = manage_selectors.category_choices()

    def filters(self) -> dict[str, Any]:
        if not self.is_bound:
            return {}
        self.is_valid()
        category = self.cleaned_data.get("category")
        return {
            "category_id": category.pk if category else None,
            "units_only": bool(self.cleaned_data.get("units")),
        }


def slot_choices() -> list[tuple[str, str]]:
    return [(code, slot_label(code)) for code in SLOTS]


def availability_grid(selected: list[str]) -> list[dict[str, Any]]:
    """Rows of the 7×3 grid: [{"label": 周一, "cells": [(code, 上午, checked), …]}, …]."""
    chosen = set(selected)
    return [
        {
            "label": DAY_LABELS[d],
            "cells": [
                (f"{day}_{period}", PERIOD_LABELS[p], f"{day}_{period}" in chosen)
                for p, period in enumerate(PERIODS)
            ],
        }
        for d, day in enumerate(DAYS)
    ]


class UnitOfferForm(ServiceForm):
    """登记单位服务: what a unit in the area (or the community itself) offers residents."""

    error_fields = {"category_ids": "categories"}

    org = forms.ModelChoiceField(
        label=_("提供单位"), queryset=None, empty_label=_("请选择"), widget=_select()
    )
    title = forms.CharField(label=_("标题"), required=False, max_length=60, widget=_text())
    categories = forms.ModelMultipleChoiceField(
        label=_("可提供的服务"), queryset=None, required=False, widget=_checkboxes()
    )
    description = forms.CharField(
        label=_("说明"), required=False, max_length=1000, widget=_textarea(3)
    )
    availability = forms.MultipleChoiceField(
        label=_("可服务时间"), required=False, widget=_checkboxes()
    )
    address = forms.CharField(
        label=_("服务范围/地点"), required=False, max_length=200, widget=_text()
    )
    latitude = _coordinate(_("纬度"), 90, _("可不填"))
    longitude = _coordinate(_("经度"), 180)

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = manage_selectors.offer_orgs(scope=scope)
        self.fields["categories"].queryset = manage_selectors.category_choices()
        self.fields["availability"].choices = slot_choices()

    def selected_slots(self) -> list[str]:
        if self.is_bound:
            return self.data.getlist("availability") if hasattr(self.data, "getlist") else []
        return from_mask(0)

    def offer_input(self) -> OfferInput:
        data = self.cleaned_data
        return OfferInput(
            title=data.get("title") or "",
            category_ids=[c.pk for c in data.get("categories") or []],
            description=data.get("description") or "",
            availability=to_mask(data.get("availability") or []),
            address=data.get("address") or "",
            latitude=_float(data.get("latitude")),
            longitude=_float(data.get("longitude")),
        )
