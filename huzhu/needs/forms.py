"""Forms of the resident's and volunteer's needs pages (phones first, large inputs). They parse
input only; the rules (a time in the past, a backwards window, not enough balance, who may do
what) live in ``needs.services`` and come back as errors beside the fields they name."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huzhu.needs.models import Need, NeedCategory, Urgency
from huzhu.needs.services import NeedInput, OfferInput
from huzhu.orgs.forms import BootstrapForm
from huzhu.volunteers.availability import SLOTS, from_mask, to_mask
from huzhu.volunteers.forms import slot_choices

# The quick choices of "when": (label, first hour, last hour).
PERIOD_AM = "am"
PERIOD_PM = "pm"
PERIOD_EVENING = "eve"
PERIOD_EXACT = "exact"
PERIOD_HOURS: dict[str, tuple[int, int]] = {
    PERIOD_AM: (8, 12),
    PERIOD_PM: (14, 18),
    PERIOD_EVENING: (18, 21),
}
PERIOD_CHOICES = (
    (PERIOD_AM, _("上午（8点–12点）")),
    (PERIOD_PM, _("下午（14点–18点）")),
    (PERIOD_EVENING, _("晚上（18点–21点）")),
    (PERIOD_EXACT, _("指定时间")),
)
RATING_CHOICES = [(str(n), str(n)) for n in range(1, 6)]


def _large(widget_class: type[forms.Widget] = forms.TextInput, **attrs: Any) -> forms.Widget:
    return widget_class(attrs={"class": "form-control form-control-lg", **attrs})


class ServiceErrorsForm(BootstrapForm):
    """Puts a service's ValidationError beside the field it names (``error_fields`` maps the
    service's names to the form's), everything else above the fields. The pages show each
    error right next to its field, so no label prefix is added."""

    error_fields: dict[str, str] = {}

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            for message in exc.messages:
                self.add_error(None, message)
            return
        for name, messages in exc.message_dict.items():
            field = self.error_fields.get(name, name)
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


# --- posting a need ---------------------------------------------------------------------------


class NeedForm(ServiceErrorsForm):
    """我要求助 (and editing an open need): what, which kind, when, where, how urgent, how paid.

    Description and address are checked by the service (its Chinese messages appear beside
    them); the category may be left to the description's best suggestion."""

    error_fields = {"starts_at": "start_time", "ends_at": "end_time"}

    description = forms.CharField(
        label=_("请说说需要什么帮助"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(
            attrs={
                "class": "form-control form-control-lg fs-4",
                "rows": 3,
                "placeholder": _("例如：帮我买菜，腿脚不方便下楼"),
            }
        ),
    )
    category = forms.ModelChoiceField(
        label=_("需要哪一类帮助"),
        queryset=NeedCategory.objects.none(),
        required=False,
        widget=forms.RadioSelect,
    )
    day = forms.DateField(
        label=_("哪一天"),
        error_messages={"required": _("请选择日期。"), "invalid": _("请选择有效的日期。")},
        widget=forms.DateInput(
            format="%Y-%m-%d",
            attrs={"type": "date", "class": "form-control form-control-lg fs-4"},
        ),
    )
    period = forms.ChoiceField(
        label=_("什么时候"),
        choices=PERIOD_CHOICES,
        initial=PERIOD_AM,
        error_messages={"required": _("请选择时间段。")},
        widget=forms.RadioSelect,
    )
    start_time = forms.TimeField(
        label=_("开始时间"),
        required=False,
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time", "class": "form-control"}),
    )
    end_time = forms.TimeField(
        label=_("结束时间"),
        required=False,
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time", "class": "form-control"}),
    )
    address = forms.CharField(
        label=_("服务地点"), required=False, max_length=200, widget=_large(autocomplete="off")
    )
    urgency = forms.ChoiceField(
        label=_("紧急程度"),
        choices=Urgency.choices,
        initial=Urgency.NORMAL,
        widget=forms.RadioSelect,
    )
    payment = forms.ChoiceField(label=_("支付方式"), choices=(), widget=forms.RadioSelect)
    minutes = forms.IntegerField(
        label=_("预计需要多少分钟（选填）"),
        required=False,
        min_value=1,
        max_value=24 * 60,
        widget=_large(forms.NumberInput, inputmode="numeric", min="1", max="1440", step="10"),
    )

    def __init__(
        self, *args: Any, payments: list[tuple[str, str]], address: str = "", **kwargs: Any
    ) -> None:
        tomorrow = timezone.localdate() + dt.timedelta(days=1)
        initial = {"day": tomorrow, "address": address, "payment": payments[0][0]}
        initial.update(kwargs.pop("initial", None) or {})
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["category"].queryset = NeedCategory.objects.filter(is_active=True)
        self.fields["payment"].choices = payments

    @staticmethod
    def initial_for(need: Need) -> dict[str, Any]:
        """The form's values for an existing need (editing)."""
        start = timezone.localtime(need.starts_at)
        end = timezone.localtime(need.ends_at)
        period = PERIOD_EXACT
        for code, (first, last) in PERIOD_HOURS.items():
            same_day = start.date() == end.date()
            exact_hours = start.time() == dt.time(first) and end.time() == dt.time(last)
            if same_day and exact_hours:
                period = code
        return {
            "description": need.description,
            "category": need.category_id,
            "day": start.date(),
            "period": period,
            "start_time": start.time().replace(second=0, microsecond=0),
            "end_time": end.time().replace(second=0, microsecond=0),
            "address": need.address,
            "urgency": need.urgency,
            "payment": need.payment,
            "minutes": need.minutes,
        }

    def category_options(self) -> list[tuple[int, str, bool]]:
        """(id, name, checked) of each active category, for the big radio buttons."""
        chosen = str(self["category"].value() or "")
        return [
            (category.pk, category.name, str(category.pk) == chosen)
            for category in self.fields["category"].queryset
        ]

    @property
    def is_exact(self) -> bool:
        return self["period"].value() == PERIOD_EXACT

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        day, period = data.get("day"), data.get("period")
        if day is None or not period:
            return data
        if period == PERIOD_EXACT:
            start, end = data.get("start_time"), data.get("end_time")
            if start is None:
                self.add_error("start_time", _("请填写开始时间。"))
            if end is None:
                self.add_error("end_time", _("请填写结束时间。"))
            if start is None or end is None:
                return data
        else:
            first, last = PERIOD_HOURS[period]
            start, end = dt.time(first), dt.time(last)
        data["starts_at"] = timezone.make_aware(dt.datetime.combine(day, start))
        data["ends_at"] = timezone.make_aware(dt.datetime.combine(day, end))
        return data

    def to_input(self) -> NeedInput:
        data = self.cleaned_data
        return NeedInput(
            description=data["description"],
            address=data["address"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            category=data.get("category"),
            urgency=data["urgency"],
            payment=data["payment"],
            minutes=data.get("minutes"),
        )


# --- the steps of a need ----------------------------------------------------------------------


class NextForm(forms.Form):
    """Where to go after a button (checked as a safe local URL by the view)."""

    next = forms.CharField(required=False, max_length=500)


class ReasonForm(NextForm):
    """取消 / 有异议: the reason (the service says when it is missing)."""

    reason = forms.CharField(label=_("原因"), required=False, max_length=300)


class NoteForm(NextForm):
    """我来帮忙 / 婉拒: an optional note."""

    note = forms.CharField(label=_("留言（选填）"), required=False, max_length=200)
    reply = forms.CharField(label=_("回复（选填）"), required=False, max_length=200)


class DoneForm(NextForm):
    """服务完成: how long it took and a note."""

    minutes = forms.IntegerField(
        label=_("服务用了多少分钟"),
        min_value=1,
        max_value=24 * 60,
        error_messages={"required": _("请填写服务时长。"), "invalid": _("请填写整数分钟。")},
    )
    note = forms.CharField(label=_("说明（选填）"), required=False, max_length=300)


class ConfirmForm(NextForm):
    """确认完成并评价: stars and a comment; a worker also the settled time and the consent."""

    rating = forms.TypedChoiceField(
        label=_("评分"), choices=RATING_CHOICES, coerce=int, required=False, empty_value=None
    )
    comment = forms.CharField(label=_("评价（选填）"), required=False, max_length=200)
    minutes = forms.IntegerField(label=_("核定时长（分钟）"), required=False)
    consent = forms.CharField(label=_("求助人同意方式"), required=False, max_length=200)


class MessageForm(forms.Form):
    body = forms.CharField(label=_("留言"), required=False, max_length=2000)


class InviteForm(forms.Form):
    """推荐志愿者: the ids chosen among the shown candidates."""

    volunteer_id = forms.TypedMultipleChoiceField(
        label=_("志愿者"), coerce=int, required=False, choices=()
    )

    def __init__(self, *args: Any, volunteer_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["volunteer_id"].choices = [(pk, str(pk)) for pk in volunteer_ids]
        self.fields["volunteer_id"].error_messages["invalid_choice"] = _(
            "所选志愿者不在推荐名单中，请刷新页面后重新选择。"
        )


APPROVE = "approve"
DECLINE = "decline"


class ApplicationForm(forms.Form):
    """The requester's answer to a volunteer's 我来帮忙 (posted to the need's page)."""

    action = forms.ChoiceField(choices=((APPROVE, APPROVE), (DECLINE, DECLINE)))
    invitation = forms.IntegerField(min_value=1)
    reply = forms.CharField(required=False, max_length=200)


class BoardFilterForm(forms.Form):
    category = forms.ModelChoiceField(
        label=_("类别"),
        queryset=NeedCategory.objects.none(),
        required=False,
        empty_label=_("全部类别"),
        widget=forms.Select(attrs={"class": "form-select form-select-lg"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = NeedCategory.objects.filter(is_active=True)

    def category_id(self) -> int | None:
        if not self.is_bound or not self.is_valid():
            return None
        category = self.cleaned_data.get("category")
        return category.pk if category else None


# --- offers -----------------------------------------------------------------------------------


class OfferForm(ServiceErrorsForm):
    """我的服务: what I can do, where and when (the weekly 7×3 grid)."""

    error_fields = {"category_ids": "categories"}

    title = forms.CharField(
        label=_("标题"),
        required=False,
        max_length=60,
        widget=_large(placeholder=_("例如：周末可以帮忙买菜、取药")),
    )
    categories = forms.ModelMultipleChoiceField(
        label=_("可以提供的服务"),
        queryset=NeedCategory.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "btn-check"}),
    )
    description = forms.CharField(
        label=_("说明（选填）"),
        required=False,
        max_length=1000,
        widget=_large(forms.Textarea, rows=3),
    )
    availability = forms.MultipleChoiceField(label=_("可以服务的时间"), required=False, choices=())
    address = forms.CharField(
        label=_("服务范围或地点（选填）"),
        required=False,
        max_length=200,
        widget=_large(placeholder=_("例如：甲社区及周边")),
    )
    latitude = forms.FloatField(
        label=_("纬度（选填）"),
        required=False,
        min_value=-90,
        max_value=90,
        widget=_large(forms.NumberInput, step="any", inputmode="decimal"),
    )
    longitude = forms.FloatField(
        label=_("经度（选填）"),
        required=False,
        min_value=-180,
        max_value=180,
        widget=_large(forms.NumberInput, step="any", inputmode="decimal"),
    )
    is_active = forms.BooleanField(
        label=_("正在提供（关闭后不再参与匹配）"),
        required=False,
        initial=True,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input", "role": "switch"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["categories"].queryset = NeedCategory.objects.filter(is_active=True)
        self.fields["availability"].choices = slot_choices()

    @staticmethod
    def initial_for(offer: Any) -> dict[str, Any]:
        return {
            "title": offer.title,
            "categories": [c.pk for c in offer.categories.all()],
            "description": offer.description,
            "availability": from_mask(offer.availability),
            "address": offer.address,
            "latitude": offer.latitude,
            "longitude": offer.longitude,
            "is_active": offer.is_active,
        }

    def selected_slots(self) -> list[str]:
        value = self["availability"].value() or []
        return [code for code in value if code in SLOTS]

    def to_input(self) -> OfferInput:
        data = self.cleaned_data
        return OfferInput(
            title=data["title"],
            category_ids=[c.pk for c in data["categories"]],
            description=data["description"],
            availability=to_mask(data["availability"]),
            address=data["address"],
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            is_active=data["is_active"],
        )
