"""Forms of the organiser's activity pages. They parse input only; the rules live in
``activities.services`` and ``activities.record_services``, whose ``ValidationError``
messages are put back next to the field they name."""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huzhu.activities.manage_selectors import organiser_orgs
from huzhu.activities.models import (
    Activity,
    ActivityStatus,
    CertificateStatus,
    RecordRating,
    RecordStatus,
    Recruitment,
    Rounding,
    ServiceRecord,
    Shift,
    SignupMode,
)
from huzhu.activities.record_services import RecordInput
from huzhu.activities.services import SCALAR_FIELDS, ActivityInput, ShiftInput
from huzhu.orgs.forms import BootstrapForm
from huzhu.orgs.scope import Scope
from huzhu.people.forms import looks_like_full_number
from huzhu.volunteers import selectors as volunteer_selectors
from huzhu.web.forms import choice_filter, model_filter

WEEKDAYS = (
    (0, _("周一")),
    (1, _("周二")),
    (2, _("周三")),
    (3, _("周四")),
    (4, _("周五")),
    (5, _("周六")),
    (6, _("周日")),
)
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


def _text(**attrs: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"class": "form-control", **attrs})


def _number(**attrs: Any) -> forms.NumberInput:
    return forms.NumberInput(attrs={"class": "form-control", **attrs})


def _select() -> forms.Select:
    return forms.Select(attrs={"class": "form-select"})


def _checkbox() -> forms.CheckboxInput:
    return forms.CheckboxInput(attrs={"class": "form-check-input"})


def _checkboxes() -> forms.CheckboxSelectMultiple:
    return forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})


def _date() -> forms.DateInput:
    return forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d")


def _time() -> forms.TimeInput:
    return forms.TimeInput(attrs={"class": "form-control", "type": "time"}, format="%H:%M")


def _local_datetime() -> forms.DateTimeInput:
    """A ``datetime-local`` input; Django reads and shows it in the current time zone."""
    return forms.DateTimeInput(
        attrs={"class": "form-control", "type": "datetime-local"}, format=LOCAL_MINUTE
    )


def _risky_text(label: str, max_length: int) -> forms.CharField:
    """An insurance detail: optional here, the service requires it of a risky activity."""
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        help_text=_("有风险的活动必填"),
        widget=_text(),
    )


def _rating() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=_("服务评价"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("暂不评价")), *RecordRating.choices],
        widget=_select(),
    )


def _evaluation() -> forms.CharField:
    return forms.CharField(label=_("评语"), required=False, max_length=200, widget=_text())


def _reason(label: str, placeholder: str = "") -> forms.CharField:
    # Not required here: the service refuses an empty reason in its own words.
    return forms.CharField(
        label=label, required=False, max_length=200, widget=_text(placeholder=placeholder)
    )


def hours_to_minutes(hours: Decimal | None) -> int:
    if hours is None:
        return 0
    return int((hours * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def minutes_to_hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()


def forget_full_number(form: forms.Form, name: str) -> None:
    """Do not echo a full ID or phone number back into the page: clear the field's value
    before a bound form is shown again."""
    if form.is_bound and looks_like_full_number(str(form.data.get(name) or "")):
        form.data = form.data.copy()
        form.data[name] = ""


class ServiceForm(BootstrapForm):
    """A form that shows a service's ``ValidationError`` next to the field it names
    (``error_fields`` maps a service's name to the form's where they differ)."""

    error_fields: dict[str, str] = {}

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for name, messages in exc.message_dict.items():
            field = self.error_fields.get(name, name)
            self.add_error(field if field in self.fields else None, messages)


# --- activities ---------------------------------------------------------------------------


class ActivityFilterForm(forms.Form):
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        max_length=50,
        widget=forms.TextInput(
            attrs={
                "class": "form-control",
                "type": "search",
                "placeholder": _("活动名称或地点"),
                "autocomplete": "off",
            }
        ),
    )
    status = choice_filter(_("状态"), ActivityStatus.choices, _("全部状态"))
    category = model_filter(_("服务类别"), _("全部类别"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = volunteer_selectors.category_choices()

    def filters(self) -> dict[str, Any]:
        """The selector's filters; an invalid one is dropped, the others still apply."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = self.cleaned_data
        category = data.get("category")
        return {
            "status": data.get("status") or "",
            "search": (data.get("q") or "").strip(),
            "category_id": category.pk if category else None,
        }


class ActivityForm(ServiceForm):
    """发布活动 / 修改活动. ``activity`` given: an edit (the organiser org stays)."""

    org = forms.ModelChoiceField(
        label=_("组织单位"), queryset=None, empty_label=_("请选择"), widget=_select()
    )
    title = forms.CharField(label=_("活动名称"), max_length=100, widget=_text())
    category = forms.ModelChoiceField(
        label=_("服务类别"), queryset=None, empty_label=_("请选择"), widget=_select()
    )
    served_groups = forms.ModelMultipleChoiceField(
        label=_("服务对象"), queryset=None, required=False, widget=_checkboxes()
    )
    description = forms.CharField(
        label=_("活动内容"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 4}),
    )
    address = forms.CharField(label=_("活动地点"), max_length=200, widget=_text())
    latitude = forms.DecimalField(
        label=_("纬度"),
        required=False,
        max_digits=9,
        decimal_places=6,
        min_value=Decimal(-90),
        max_value=Decimal(90),
        help_text=_("可不填；填写后可按距离核验签到"),
        widget=_number(step="0.000001"),
    )
    longitude = forms.DecimalField(
        label=_("经度"),
        required=False,
        max_digits=9,
        decimal_places=6,
        min_value=Decimal(-180),
        max_value=Decimal(180),
        widget=_number(step="0.000001"),
    )
    starts_on = forms.DateField(label=_("开始日期"), widget=_date())
    ends_on = forms.DateField(label=_("结束日期"), widget=_date())
    required_skills = forms.ModelMultipleChoiceField(
        label=_("所需技能"), queryset=None, required=False, widget=_checkboxes()
    )
    required_qualifications = forms.ModelMultipleChoiceField(
        label=_("所需资质"), queryset=None, required=False, widget=_checkboxes()
    )
    min_age = forms.IntegerField(
        label=_("最低年龄"), min_value=0, max_value=100, initial=0, widget=_number()
    )
    is_risky = forms.BooleanField(
        label=_("有风险的活动（须购买意外保险，未成年人不得参加）"),
        required=False,
        widget=_checkbox(),
    )
    insurer = _risky_text(_("承保机构"), 100)
    insurance_policy = _risky_text(_("保单号"), 60)
    recruitment = forms.ChoiceField(
        label=_("招募方式"), choices=Recruitment.choices, initial=Recruitment.OPEN, widget=_select()
    )
    invite_code = forms.CharField(
        label=_("邀请码"),
        required=False,
        max_length=12,
        help_text=_("“凭邀请码”招募时必填"),
        widget=_text(autocomplete="off"),
    )
    contact_name = forms.CharField(label=_("联系人"), required=False, max_length=50, widget=_text())
    contact_phone = forms.CharField(
        label=_("联系电话"), required=False, max_length=20, widget=_text(inputmode="tel")
    )
    checkin_radius_m = forms.IntegerField(
        label=_("签到距离限制（米）"),
        required=False,
        min_value=10,
        max_value=100_000,
        help_text=_("不填则不限距离；设置前请填写经纬度"),
        widget=_number(),
    )
    rounding_minutes = forms.IntegerField(
        label=_("时长取整单位（分钟）"), initial=15, widget=_number()
    )
    rounding = forms.ChoiceField(
        label=_("取整方式"), choices=Rounding.choices, initial=Rounding.DOWN, widget=_select()
    )
    withdraw_hours_before = forms.IntegerField(
        label=_("开始前多少小时可取消报名"),
        min_value=0,
        max_value=720,
        initial=2,
        widget=_number(),
    )
    recur_weekdays = forms.TypedMultipleChoiceField(
        label=_("每周重复"),
        required=False,
        coerce=int,
        choices=WEEKDAYS,
        help_text=_("选择后，系统按周自动排出这些日子的班次"),
        widget=_checkboxes(),
    )
    recur_start = forms.TimeField(label=_("重复班次开始时间"), required=False, widget=_time())
    recur_end = forms.TimeField(label=_("重复班次结束时间"), required=False, widget=_time())
    recur_capacity = forms.IntegerField(
        label=_("重复班次名额"), required=False, min_value=1, max_value=100_000, widget=_number()
    )
    recur_skip_holidays = forms.BooleanField(
        label=_("法定节假日不排班"), required=False, initial=True, widget=_checkbox()
    )
    credit_team = forms.BooleanField(
        label=_("时间币记入服务队（团体时长）"),
        required=False,
        help_text=_("仅服务队组织的活动可选；团队时间币只能捐赠"),
        widget=_checkbox(),
    )

    def __init__(
        self, *args: Any, scope: Scope, activity: Activity | None = None, **kwargs: Any
    ) -> None:
        if activity is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(activity)
        super().__init__(*args, **kwargs)
        self.activity = activity
        if activity is None:
            self.fields["org"].queryset = organiser_orgs(scope=scope)
        else:
            del self.fields["org"]
        self.fields["category"].queryset = volunteer_selectors.category_choices()
        self.fields["served_groups"].queryset = volunteer_selectors.served_group_choices()
        self.fields["required_skills"].queryset = volunteer_selectors.skill_choices(curated=True)
        self.fields[
            "required_qualifications"
        ].queryset = volunteer_selectors.qualification_type_choices()

    @staticmethod
    def initial_from(activity: Activity) -> dict[str, Any]:
        initial: dict[str, Any] = {name: getattr(activity, name) for name in SCALAR_FIELDS}
        initial["served_groups"] = list(activity.served_groups.all())
        initial["required_skills"] = list(activity.required_skills.all())
        initial["required_qualifications"] = list(activity.required_qualifications.all())
        initial["recur_weekdays"] = [
            d for d, _label in WEEKDAYS if activity.recur_weekdays >> d & 1
        ]
        return initial

    def activity_input(self) -> ActivityInput:
        data = self.cleaned_data
        latitude, longitude = data.get("latitude"), data.get("longitude")
        return ActivityInput(
            title=data["title"],
            category=data["category"],
            address=data["address"].strip(),
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            description=data.get("description") or "",
            served_groups=list(data.get("served_groups") or []),
            latitude=float(latitude) if latitude is not None else None,
            longitude=float(longitude) if longitude is not None else None,
            required_skills=list(data.get("required_skills") or []),
            required_qualifications=list(data.get("required_qualifications") or []),
            min_age=data.get("min_age") or 0,
            is_risky=bool(data.get("is_risky")),
            insurer=(data.get("insurer") or "").strip(),
            insurance_policy=(data.get("insurance_policy") or "").strip(),
            recruitment=data["recruitment"],
            invite_code=(data.get("invite_code") or "").strip(),
            contact_name=(data.get("contact_name") or "").strip(),
            contact_phone=(data.get("contact_phone") or "").strip(),
            checkin_radius_m=data.get("checkin_radius_m"),
            rounding_minutes=data["rounding_minutes"],
            rounding=data["rounding"],
            withdraw_hours_before=data["withdraw_hours_before"],
            recur_weekdays=sum(1 << day for day in data.get("recur_weekdays") or []),
            recur_start=data.get("recur_start"),
            recur_end=data.get("recur_end"),
            recur_capacity=data.get("recur_capacity"),
            recur_skip_holidays=bool(data.get("recur_skip_holidays")),
            credit_team=bool(data.get("credit_team")),
        )


class StatusForm(ServiceForm):
    """发布, 开始, 结项, 取消 (with a reason)."""

    status = forms.ChoiceField(label=_("变更为"), choices=ActivityStatus.choices)
    reason = _reason(_("取消原因"), _("取消活动须说明原因，报名的志愿者会收到通知"))


class BeneficiaryForm(ServiceForm):
    count = forms.IntegerField(
        label=_("服务对象人次"), min_value=0, max_value=1_000_000, widget=_number()
    )


# --- shifts -------------------------------------------------------------------------------


class ShiftForm(ServiceForm):
    """A shift's times (local time, Asia/Shanghai), places and check-in windows."""

    name = forms.CharField(
        label=_("班次名称"),
        required=False,
        max_length=50,
        widget=_text(placeholder=_("如：上午班，可不填")),
    )
    starts_at = forms.DateTimeField(label=_("开始时间"), widget=_local_datetime())
    ends_at = forms.DateTimeField(label=_("结束时间"), widget=_local_datetime())
    capacity = forms.IntegerField(label=_("名额"), min_value=1, max_value=100_000, widget=_number())
    signup_mode = forms.ChoiceField(
        label=_("报名方式"),
        choices=SignupMode.choices,
        initial=SignupMode.INSTANT,
        widget=_select(),
    )
    checkin_opens_minutes = forms.IntegerField(
        label=_("提前多少分钟可签到"), min_value=0, max_value=720, initial=30, widget=_number()
    )
    checkout_closes_minutes = forms.IntegerField(
        label=_("结束后多少分钟内可签退"),
        min_value=0,
        max_value=1440,
        initial=120,
        widget=_number(),
    )

    def __init__(self, *args: Any, shift: Shift | None = None, **kwargs: Any) -> None:
        if shift is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                field.name: getattr(shift, field.name) for field in dataclasses.fields(ShiftInput)
            }
        super().__init__(*args, **kwargs)

    def shift_input(self) -> ShiftInput:
        data = self.cleaned_data
        return ShiftInput(
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            capacity=data["capacity"],
            name=data.get("name") or "",
            signup_mode=data["signup_mode"],
            checkin_opens_minutes=data["checkin_opens_minutes"],
            checkout_closes_minutes=data["checkout_closes_minutes"],
        )


class ReasonForm(ServiceForm):
    reason = _reason(_("原因"))


class DecideForm(ServiceForm):
    decision = forms.ChoiceField(
        label=_("审核"), choices=(("approve", _("通过")), ("decline", _("不通过")))
    )
    reason = _reason(_("不通过原因"))


class CheckForm(forms.Form):
    direction = forms.ChoiceField(choices=(("in", _("签到")), ("out", _("签退"))))


class AttendanceCorrectForm(ServiceForm):
    checked_in_at = forms.DateTimeField(
        label=_("签到时间"),
        required=False,
        help_text=_("签到和签退都清空表示未到场"),
        widget=_local_datetime(),
    )
    checked_out_at = forms.DateTimeField(
        label=_("签退时间"), required=False, widget=_local_datetime()
    )
    reason = _reason(_("更正原因"), _("如：忘记签退、无智能手机，由组织者登记"))


class OrganiserSignupForm(ServiceForm):
    """Find a volunteer (number or name) and sign them up; ``volunteer_id`` is the choice
    made among several matches."""

    q = forms.CharField(
        label=_("志愿者编号或姓名"),
        required=False,
        max_length=50,
        widget=_text(autocomplete="off", placeholder=_("志愿者编号、姓名或拼音首字母")),
    )
    volunteer_id = forms.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput
    )
    error_fields = {"invite_code": "q"}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("volunteer_id") and not (data.get("q") or "").strip():
            self.add_error("q", _("请输入志愿者编号或姓名。"))
        return data


# --- records ------------------------------------------------------------------------------


class RecordFilterForm(forms.Form):
    status = choice_filter(_("状态"), RecordStatus.choices, _("全部状态"))


def _hours_field(label: str) -> forms.DecimalField:
    # Range left to the service ("服务时长应在 1 分钟到 24 小时之间").
    return forms.DecimalField(
        label=label, max_digits=6, decimal_places=2, widget=_number(step="0.25")
    )


class RecordEnterForm(ServiceForm):
    """组织录入: a record of work done for a volunteer found by number."""

    number = forms.CharField(
        label=_("志愿者"),
        max_length=40,
        help_text=_("志愿者编号、完整身份证号或手机号"),
        widget=_text(autocomplete="off"),
    )
    org = forms.ModelChoiceField(
        label=_("记录单位"), queryset=None, empty_label=_("请选择"), widget=_select()
    )
    category = forms.ModelChoiceField(
        label=_("服务类别"), queryset=None, empty_label=_("请选择"), widget=_select()
    )
    served_on = forms.DateField(label=_("服务日期"), widget=_date())
    hours = _hours_field(_("服务时长（小时）"))
    content = forms.CharField(label=_("服务内容"), max_length=300, widget=_text())
    place = forms.CharField(label=_("服务地点"), max_length=200, widget=_text())
    rating = _rating()
    evaluation = _evaluation()
    confirm = forms.BooleanField(
        label=_("立即确认（计入志愿者的服务时长）"), required=False, widget=_checkbox()
    )
    error_fields = {"minutes": "hours"}

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = organiser_orgs(scope=scope)
        self.fields["category"].queryset = volunteer_selectors.category_choices()
        if not self.is_bound:
            self.fields["served_on"].initial = timezone.localdate()

    def record_input(self) -> RecordInput:
        data = self.cleaned_data
        return RecordInput(
            served_on=data["served_on"],
            minutes=hours_to_minutes(data["hours"]),
            content=data["content"],
            place=data["place"],
            category=data["category"],
            rating=data.get("rating"),
            evaluation=data.get("evaluation") or "",
        )


class RecordsConfirmForm(forms.Form):
    record_ids = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id may be sent; the service checks scope and status and says what is wrong.
        raw = self.data.getlist("record_ids") if hasattr(self.data, "getlist") else []
        self.fields["record_ids"].choices = [(v, v) for v in raw]

    def clean_record_ids(self) -> list[int]:
        ids = self.cleaned_data.get("record_ids") or []
        if not ids:
            raise ValidationError(_("请先勾选要确认的服务记录。"))
        return ids


class RecordCorrectForm(ServiceForm):
    served_on = forms.DateField(label=_("服务日期"), widget=_date())
    hours = _hours_field(_("服务时长（小时）"))
    content = forms.CharField(label=_("服务内容"), max_length=300, widget=_text())
    place = forms.CharField(label=_("服务地点"), max_length=200, widget=_text())
    reason = _reason(_("更正原因"))
    error_fields = {"minutes": "hours"}

    def __init__(self, *args: Any, record: ServiceRecord, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "served_on": record.served_on,
                "hours": minutes_to_hours(record.minutes),
                "content": record.content,
                "place": record.place,
            },
        )
        super().__init__(*args, **kwargs)

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "served_on": data["served_on"],
            "minutes": hours_to_minutes(data["hours"]),
            "content": data["content"].strip(),
            "place": data["place"].strip(),
        }


class RecordEvaluateForm(ServiceForm):
    rating = _rating()
    evaluation = _evaluation()


class CertificateFilterForm(forms.Form):
    status = choice_filter(_("状态"), CertificateStatus.choices, _("全部状态"))
