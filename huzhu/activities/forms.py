"""Forms of the volunteer's activity pages. They parse input only; the rules (eligibility,
check-in windows, the daily ceiling, who may certify) live in ``activities.services`` and
``activities.record_services``. Inputs are large: many volunteers are elderly and on phones."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huzhu.orgs.models import Org
from huzhu.volunteers.forms import ServiceErrorsMixin
from huzhu.volunteers.models import ServiceCategory
from huzhu.volunteers.selectors import category_choices

ACTION_IN = "in"
ACTION_OUT = "out"
ACTIONS = ((ACTION_IN, _("签到")), (ACTION_OUT, _("签退")))
CODE_PATTERN = re.compile(r"^\d{6}$")
# Anything larger is a typing slip, refused before the service sees it.
MAX_DECLARED_HOURS = Decimal(1000)


def _large(widget_class: type[forms.Widget] = forms.TextInput, **attrs: Any) -> forms.Widget:
    return widget_class(attrs={"class": "form-control form-control-lg", **attrs})


def _large_select(**attrs: Any) -> forms.Select:
    return forms.Select(attrs={"class": "form-select form-select-lg", **attrs})


def _date_input(**attrs: Any) -> forms.DateInput:
    return forms.DateInput(
        format="%Y-%m-%d", attrs={"type": "date", "class": "form-control form-control-lg", **attrs}
    )


def _coordinate(value: Any, limit: float) -> float | None:
    """A browser-supplied coordinate, or None when missing or nonsense (never an error:
    the service decides whether the activity needs a location)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if -limit <= number <= limit else None


class OrgChoiceMixin:
    """An ``org`` choice over a given list of orgs; ``cleaned_data['org']`` is the Org."""

    def _set_orgs(self, orgs: list[Org]) -> None:
        self._orgs = {org.pk: org for org in orgs}
        field = self.fields["org"]  # type: ignore[attr-defined]
        field.choices = [(org.pk, org.name) for org in orgs]
        if len(orgs) == 1:
            field.initial = orgs[0].pk

    def clean_org(self) -> Org:
        value = self.cleaned_data["org"]  # type: ignore[attr-defined]
        return self._orgs[int(value)]


# --- browsing and sign-up --------------------------------------------------------------------


class BrowseFilterForm(forms.Form):
    """The GET filter of the activity list: search text and service category."""

    q = forms.CharField(
        label=_("搜索"),
        required=False,
        max_length=50,
        widget=_large(type="search", placeholder=_("活动名称、地点"), autocomplete="off"),
    )
    category = forms.ModelChoiceField(
        label=_("服务类别"),
        queryset=ServiceCategory.objects.none(),
        required=False,
        empty_label=_("全部类别"),
        widget=_large_select(),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = category_choices()

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for ``selectors.activities_open`` (a bad value is ignored)."""
        if not self.is_bound or not self.is_valid():
            return {}
        category = self.cleaned_data.get("category")
        return {
            "search": self.cleaned_data.get("q", "").strip(),
            "category_id": category.pk if category else None,
        }


class SignupForm(ServiceErrorsMixin, forms.Form):
    invite_code = forms.CharField(
        label=_("邀请码"),
        required=False,
        max_length=12,
        widget=_large(autocomplete="off", autocapitalize="characters", spellcheck="false"),
    )
    note = forms.CharField(label=_("备注（选填）"), required=False, max_length=200, widget=_large())


class WithdrawForm(forms.Form):
    # Which page the button was on: back there afterwards.
    back = forms.ChoiceField(choices=(("detail", "detail"), ("mine", "mine")), required=False)


# --- check-in and check-out ------------------------------------------------------------------


class AttendanceForm(forms.Form):
    """签到 or 签退: the action, and the phone's location when the browser gave it."""

    action = forms.ChoiceField(label=_("操作"), choices=ACTIONS)
    lat = forms.CharField(required=False, max_length=40)
    lng = forms.CharField(required=False, max_length=40)

    def clean_lat(self) -> float | None:
        return _coordinate(self.cleaned_data.get("lat"), 90)

    def clean_lng(self) -> float | None:
        return _coordinate(self.cleaned_data.get("lng"), 180)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("lat") is None or data.get("lng") is None:
            data["lat"] = data["lng"] = None
        return data


class ScanForm(AttendanceForm):
    """The POST of the scan page: the shift and the QR token it was opened with."""

    s = forms.IntegerField(min_value=1)
    t = forms.CharField(max_length=64)


class CodeCheckinForm(ServiceErrorsMixin, AttendanceForm):
    """签到码: the six digits the organiser reads out or shows, for phones without a camera."""

    shift = forms.IntegerField(min_value=1, widget=forms.HiddenInput())
    code = forms.CharField(
        label=_("签到码"),
        max_length=20,
        widget=_large(
            inputmode="numeric",
            autocomplete="one-time-code",
            pattern="[0-9]*",
            maxlength="6",
            placeholder=_("6 位数字"),
        ),
    )

    def clean_code(self) -> str:
        code = re.sub(r"\s+", "", self.cleaned_data.get("code") or "")
        if not CODE_PATTERN.match(code):
            raise forms.ValidationError(_("签到码为 6 位数字，请核对后重新输入。"))
        return code


# --- hours and certificates ------------------------------------------------------------------


class DeclareForm(OrgChoiceMixin, ServiceErrorsMixin, forms.Form):
    """本人申报: hours as decimal hours (2.5), as hours and minutes (2 and 30), or both."""

    error_fields = {"minutes": "hours"}

    org = forms.ChoiceField(label=_("确认单位"), widget=_large_select())
    category = forms.ModelChoiceField(
        label=_("服务类别"),
        queryset=ServiceCategory.objects.none(),
        empty_label=_("请选择"),
        widget=_large_select(),
    )
    served_on = forms.DateField(label=_("服务日期"), widget=_date_input())
    hours = forms.DecimalField(
        label=_("服务时长"),
        required=False,
        min_value=Decimal(0),
        max_value=MAX_DECLARED_HOURS,
        max_digits=7,
        decimal_places=2,
        help_text=_("填写小时数，可带小数，如 2.5；也可以只填分钟"),
        widget=_large(forms.NumberInput, step="0.25", min="0", inputmode="decimal"),
    )
    minutes = forms.IntegerField(
        label=_("分钟"),
        required=False,
        min_value=0,
        max_value=59,
        widget=_large(forms.NumberInput, min="0", max="59", inputmode="numeric"),
    )
    content = forms.CharField(label=_("服务内容"), max_length=300, widget=_large())
    place = forms.CharField(label=_("服务地点"), max_length=200, widget=_large())

    def __init__(self, *args: Any, orgs: list[Org], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"served_on": timezone.localdate()})
        super().__init__(*args, **kwargs)
        self._set_orgs(orgs)
        self.fields["category"].queryset = category_choices()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        hours = data.get("hours")
        minutes = data.get("minutes")
        if "hours" in self.errors or "minutes" in self.errors:
            return data
        exact = ((hours or Decimal(0)) * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        total = int(exact) + (minutes or 0)
        if total <= 0:
            self.add_error("hours", _("请填写服务时长。"))
        data["total_minutes"] = total
        return data


class CertificateApplyForm(OrgChoiceMixin, ServiceErrorsMixin, forms.Form):
    org = forms.ChoiceField(label=_("出具单位"), widget=_large_select())
    period_from = forms.DateField(label=_("服务期间自"), widget=_date_input())
    period_to = forms.DateField(label=_("服务期间至"), widget=_date_input())
    purpose = forms.CharField(
        label=_("用途（选填）"),
        required=False,
        max_length=100,
        widget=_large(placeholder=_("如：升学、评优、求职")),
    )

    def __init__(self, *args: Any, orgs: list[Org], **kwargs: Any) -> None:
        today = timezone.localdate()
        kwargs.setdefault("initial", {"period_from": dt.date(today.year, 1, 1), "period_to": today})
        super().__init__(*args, **kwargs)
        self._set_orgs(orgs)


class VerifyForm(forms.Form):
    """The public verification page: certificate number and verification code."""

    no = forms.CharField(
        label=_("证明编号"),
        max_length=30,
        error_messages={"required": _("请填写证明编号。")},
        widget=_large(autocomplete="off", spellcheck="false", placeholder="ZYZM…"),
    )
    code = forms.CharField(
        label=_("验证码"),
        max_length=16,
        error_messages={"required": _("请填写验证码。")},
        widget=_large(autocomplete="off", spellcheck="false", autocapitalize="characters"),
    )
