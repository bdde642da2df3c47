"""Forms of the volunteer register pages. They parse input only; the rules live in
volunteers.services (registration, review, update)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.orgs.selectors import org_choices_for_residence
from huzhu.people.forms import AGE_BAND_LABELS, BootstrapErrorsMixin, looks_like_full_number
from huzhu.people.selectors import AGE_BANDS
from huzhu.volunteers import selectors
from huzhu.volunteers.availability import SLOTS, from_mask, slot_label, to_mask
from huzhu.volunteers.models import PoliticalStatus, Volunteer, VolunteerStatus
from huzhu.volunteers.selectors import SORTS, VolunteerFilters
from huzhu.volunteers.services import RegistrationInput
from huzhu.web.forms import choice_filter, model_filter

SEARCH_HINT = _("请使用姓名、拼音首字母或证件号后四位搜索；志愿者编号和完整号码请用精确查找")
_TAG_SPLIT = re.compile(r"[,，、;；/\s]+")
MAX_FREE_SKILLS = 10

SORT_LABELS = {
    "number": _("编号"),
    "name": _("姓名"),
    "hours": _("服务时长"),
    "star": _("星级"),
    "registered": _("登记时间"),
    "age": _("年龄"),
}


def _control(widget_class: type[forms.Widget] = forms.TextInput, **attrs: Any) -> forms.Widget:
    return widget_class(attrs={"class": "form-control", **attrs})


def _select(**attrs: Any) -> forms.Select:
    return forms.Select(attrs={"class": "form-select", **attrs})


def _checkboxes() -> forms.CheckboxSelectMultiple:
    return forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})


def slot_choices() -> list[tuple[str, str]]:
    return [(code, slot_label(code)) for code in SLOTS]


def split_tags(text: str) -> list[str]:
    """Free skill tags as people type them: "剪纸、太极 书法" → ["剪纸", "太极", "书法"]."""
    seen: list[str] = []
    for part in _TAG_SPLIT.split(text or ""):
        part = part.strip()[:30]
        if part and part not in seen:
            seen.append(part)
    return seen


class ServiceErrorsMixin(BootstrapErrorsMixin):
    """Put a service's ValidationError next to the fields it names, prefixed with the
    field's label (so "身份证号：…" reads well in a summary too)."""

    # service field → form field, where they differ
    error_fields: dict[str, str] = {}

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for name, messages in exc.message_dict.items():
            field = self.error_fields.get(name, name)
            known = field in self.fields  # type: ignore[attr-defined]
            label = self.fields[field].label if known else None  # type: ignore[attr-defined]
            for message in messages:
                text = message
                if label and not str(message).startswith(str(label)):
                    text = f"{label}：{message}"
                self.add_error(field if known else None, text)  # type: ignore[attr-defined]


class ProfileFieldsMixin:
    """Classification and availability fields shared by registration and edit."""

    def _setup_profile_fields(self) -> None:
        fields = self.fields  # type: ignore[attr-defined]
        fields["skills"].queryset = selectors.skill_choices(curated=True)
        fields["categories"].queryset = selectors.category_choices()
        fields["served_groups"].queryset = selectors.served_group_choices()
        fields["availability"].choices = slot_choices()

    def profile_data(self) -> dict[str, Any]:
        data = self.cleaned_data  # type: ignore[attr-defined]
        return {
            "skills": [*list(data.get("skills") or []), *split_tags(data.get("skill_tags") or "")],
            "categories": list(data.get("categories") or []),
            "served_groups": list(data.get("served_groups") or []),
            "availability": to_mask(data.get("availability") or []),
            "political_status": data.get("political_status") or PoliticalStatus.MASSES,
            "publish_name": bool(data.get("publish_name")),
        }

    def clean_skill_tags(self) -> str:
        text = self.cleaned_data.get("skill_tags") or ""  # type: ignore[attr-defined]
        if len(split_tags(text)) > MAX_FREE_SKILLS:
            raise ValidationError(
                _("其他特长最多填写 %(n)s 项") % {"n": MAX_FREE_SKILLS}, code="too_many"
            )
        return text


def _profile_fields() -> dict[str, forms.Field]:
    return {
        "skills": forms.ModelMultipleChoiceField(
            label=_("技能特长"), queryset=None, required=False, widget=_checkboxes()
        ),
        "skill_tags": forms.CharField(
            label=_("其他特长"),
            required=False,
            max_length=200,
            help_text=_("可填写多项，用逗号或顿号分开，如：剪纸、太极"),
            widget=_control(autocomplete="off"),
        ),
        "categories": forms.ModelMultipleChoiceField(
            label=_("服务类别（意向）"), queryset=None, required=False, widget=_checkboxes()
        ),
        "served_groups": forms.ModelMultipleChoiceField(
            label=_("服务对象"), queryset=None, required=False, widget=_checkboxes()
        ),
        "availability": forms.MultipleChoiceField(
            label=_("可服务时间"), required=False, widget=_checkboxes()
        ),
        "political_status": forms.ChoiceField(
            label=_("政治面貌"),
            choices=PoliticalStatus.choices,
            initial=PoliticalStatus.MASSES,
            widget=_select(),
        ),
        "publish_name": forms.BooleanField(
            label=_("同意在志愿服务公示、表彰中公开我的姓名"),
            required=False,
            widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
        ),
    }


class RegistrationForm(ServiceErrorsMixin, ProfileFieldsMixin, forms.Form):
    """Self-registration (``mode="self"``: street first, then community/grid of the whole
    city) and worker entry on a resident's behalf (``mode="worker"``: orgs in scope)."""

    error_fields = {"guardian_phone": "guardian_phone"}

    name = forms.CharField(label=_("姓名"), max_length=50, widget=_control(autocomplete="name"))
    id_number = forms.CharField(
        label=_("身份证号"),
        max_length=40,
        widget=_control(autocomplete="off", spellcheck="false", placeholder=_("18位公民身份号码")),
    )
    phone = forms.CharField(
        label=_("手机号"),
        max_length=20,
        widget=_control(autocomplete="tel", inputmode="tel", placeholder=_("11位手机号")),
    )
    street = forms.TypedChoiceField(
        label=_("所在街道/镇"), coerce=int, required=False, empty_value=None, widget=_select()
    )
    org = forms.TypedChoiceField(
        label=_("所在社区/网格"), coerce=int, empty_value=None, widget=_select()
    )
    address = forms.CharField(
        label=_("住址"),
        max_length=200,
        required=False,
        widget=_control(autocomplete="street-address"),
    )
    guardian_name = forms.CharField(
        label=_("监护人姓名"), max_length=50, required=False, widget=_control()
    )
    guardian_phone = forms.CharField(
        label=_("监护人手机号"),
        max_length=20,
        required=False,
        widget=_control(inputmode="tel", autocomplete="off"),
    )
    guardian_consent = forms.BooleanField(
        label=_("监护人已知悉并同意其参加志愿服务"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(
        self,
        *args: Any,
        scope: Scope,
        mode: str = "self",
        initial_org: Org | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(_profile_fields())
        self._setup_profile_fields()
        self.mode = mode
        self.scope = scope
        empty = [("", _("请选择"))]
        if mode == "self":
            self.fields["street"].choices = [*empty, *selectors.registration_streets()]
            street_id = self._street_id(initial_org)
            self.street_id = street_id
            self.fields["street"].initial = street_id
            self.fields["street"].widget = forms.HiddenInput()
            orgs = selectors.registration_orgs(street_id=street_id)
            self.fields["org"].choices = [*empty, *selectors.residence_org_groups(orgs)]
            self.fields["org"].widget.attrs["id"] = "id_org"
        else:
            self.street_id = None
            del self.fields["street"]
            self.fields["phone"].required = False
            self.fields["phone"].widget.attrs["placeholder"] = _("11位手机号，可不填")
            orgs = org_choices_for_residence(scope=scope, perm=Perm.VOLUNTEER_MANAGE)
            self.fields["org"].choices = [*empty, *selectors.residence_org_groups(orgs)]
        if initial_org is not None and not self.is_bound:
            self.fields["org"].initial = initial_org.pk
        if mode == "self":  # large type on the mobile page
            for field in self.fields.values():
                css = field.widget.attrs.get("class", "")
                for base in ("form-control", "form-select"):
                    if base in css.split():
                        field.widget.attrs["class"] = f"{css} {base}-lg"

    def _street_id(self, initial_org: Org | None) -> int | None:
        raw = self.data.get("street") if self.is_bound else None
        if raw is None and not self.is_bound:
            raw = self.initial.get("street")
        try:
            if raw:
                return int(raw)
        except (TypeError, ValueError):
            return None
        if self.is_bound and self.data.get("org"):
            try:
                initial_org = selectors.registration_org(org_id=int(self.data["org"]))
            except (TypeError, ValueError):
                initial_org = None
        street = selectors.street_for(initial_org)
        return street.pk if street else None

    def clean_org(self) -> Org:
        org_id = self.cleaned_data.get("org")
        if self.mode == "self":
            org = selectors.registration_org(org_id=org_id)
        else:
            org = (
                org_choices_for_residence(scope=self.scope, perm=Perm.VOLUNTEER_MANAGE)
                .filter(pk=org_id)
                .first()
            )
        if org is None:
            raise ValidationError(_("请选择所在社区或网格"), code="invalid_choice")
        return org

    def registration_input(self) -> RegistrationInput:
        data = self.cleaned_data
        return RegistrationInput(
            name=data["name"].strip(),
            id_number=data["id_number"].strip(),
            phone=(data.get("phone") or "").strip(),
            address=(data.get("address") or "").strip(),
            guardian_name=(data.get("guardian_name") or "").strip(),
            guardian_phone=(data.get("guardian_phone") or "").strip(),
            guardian_consent=bool(data.get("guardian_consent")),
            **self.profile_data(),
        )


class VolunteerEditForm(ServiceErrorsMixin, ProfileFieldsMixin, forms.Form):
    """Change a registration's classification and profile. ``org`` and historical hours
    only for a worker who manages volunteers there."""

    org = forms.TypedChoiceField(
        label=_("所属社区/网格"), coerce=int, empty_value=None, widget=_select()
    )
    historical_hours = forms.DecimalField(
        label=_("历史服务时长（小时）"),
        min_value=Decimal(0),
        max_value=Decimal(100000),
        decimal_places=1,
        widget=_control(forms.NumberInput, step="0.5"),
    )
    notes = forms.CharField(
        label=_("备注"), required=False, widget=_control(forms.Textarea, rows=3)
    )
    error_fields = {"historical_minutes": "historical_hours"}

    def __init__(
        self, *args: Any, scope: Scope, volunteer: Volunteer, can_manage: bool, **kwargs: Any
    ) -> None:
        self.volunteer = volunteer
        self.scope = scope
        self.can_manage = can_manage
        skills = list(volunteer.skills.all())
        kwargs.setdefault(
            "initial",
            {
                "org": volunteer.org_id,
                "historical_hours": _hours(volunteer.historical_minutes),
                "notes": volunteer.notes,
                "skills": [s.pk for s in skills if s.is_curated and s.is_active],
                "skill_tags": "、".join(
                    s.name for s in skills if not (s.is_curated and s.is_active)
                ),
                "categories": [c.pk for c in volunteer.categories.all()],
                "served_groups": [g.pk for g in volunteer.served_groups.all()],
                "availability": from_mask(volunteer.availability),
                "political_status": volunteer.political_status,
                "publish_name": volunteer.publish_name,
            },
        )
        super().__init__(*args, **kwargs)
        profile = _profile_fields()
        # profile fields first, then org / hours / notes
        self.fields = {**profile, **self.fields}
        self._setup_profile_fields()
        if can_manage:
            orgs = org_choices_for_residence(scope=scope, perm=Perm.VOLUNTEER_MANAGE)
            self.fields["org"].choices = selectors.residence_org_groups(orgs)
        else:
            del self.fields["org"]
            del self.fields["historical_hours"]

    def clean_org(self) -> Org:
        org = (
            org_choices_for_residence(scope=self.scope, perm=Perm.VOLUNTEER_MANAGE)
            .filter(pk=self.cleaned_data.get("org"))
            .first()
        )
        if org is None:
            raise ValidationError(_("请选择所在社区或网格"), code="invalid_choice")
        return org

    def changes(self) -> dict[str, Any]:
        """Keyword arguments for services.volunteer_update."""
        data = self.cleaned_data
        changes: dict[str, Any] = {**self.profile_data(), "notes": data.get("notes") or ""}
        if self.can_manage:
            if data["org"].pk != self.volunteer.org_id:
                changes["org"] = data["org"]
            hours = data["historical_hours"]
            if hours != _hours(self.volunteer.historical_minutes):  # not just the echo
                changes["historical_minutes"] = round(hours * 60)
        return changes


def _hours(minutes: int) -> Decimal:
    return round(Decimal(minutes) / 60, 1)


class StatusForm(ServiceErrorsMixin, forms.Form):
    """Approve, reject, suspend, resume or cancel a registration."""

    ACTIONS = {
        VolunteerStatus.REGISTERED: _("通过 / 恢复"),
        VolunteerStatus.REJECTED: _("不通过"),
        VolunteerStatus.SUSPENDED: _("暂停"),
        VolunteerStatus.CANCELLED: _("注销"),
    }

    status = forms.ChoiceField(label=_("变更为"), choices=list(ACTIONS.items()))
    reason = forms.CharField(
        label=_("原因"),
        required=False,
        max_length=200,
        widget=_control(placeholder=_("不通过、暂停、注销须填写原因")),
    )


class VolunteerFilterForm(forms.Form):
    """The GET form of the volunteer list (and its export): search text, filters, sort."""

    q = forms.CharField(
        label=_("搜索"),
        required=False,
        widget=forms.TextInput(
            attrs={
                "placeholder": _("姓名、拼音首字母（如 zs）或证件号后四位"),
                "maxlength": "50",
                "type": "search",
                "autocomplete": "off",
                "class": "form-control",
            }
        ),
    )
    org = model_filter(_("社区/网格"), _("全部社区/网格"))
    status = choice_filter(_("状态"), VolunteerStatus.choices, _("全部"))
    skill = model_filter(_("技能"), _("全部技能"))
    category = model_filter(_("服务类别"), _("全部类别"))
    served = model_filter(_("服务对象"), _("全部对象"))
    slot = forms.MultipleChoiceField(label=_("可服务时间"), required=False, widget=_checkboxes())
    qualification = model_filter(_("有效资格证书"), _("不限"))
    star = forms.TypedChoiceField(
        label=_("星级"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("不限"))] + [(str(n), _("%(n)s星及以上") % {"n": n}) for n in range(1, 6)],
        widget=_select(),
    )
    political = choice_filter(_("政治面貌"), PoliticalStatus.choices, _("全部"))
    age = choice_filter(_("年龄段"), AGE_BAND_LABELS.items(), _("全部"))
    sort = forms.ChoiceField(
        label=_("排序"),
        required=False,
        choices=[(key, key) for key in SORTS],
        widget=forms.HiddenInput,
    )

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refused = False
        self.fields["org"].queryset = org_choices_for_residence(
            scope=scope, perm=Perm.VOLUNTEER_VIEW
        )
        # Any active skill may be filtered by (links from a row's tags); the menu lists the
        # curated ones.
        self.fields["skill"].queryset = selectors.skill_choices()
        self.skill_menu = selectors.skill_choices(curated=True)
        self.fields["category"].queryset = selectors.category_choices()
        self.fields["served"].queryset = selectors.served_group_choices()
        self.fields["qualification"].queryset = selectors.qualification_type_choices()
        self.fields["slot"].choices = slot_choices()

    def clean_q(self) -> str:
        text = (self.cleaned_data.get("q") or "").strip()
        if looks_like_full_number(text):
            self.refused = True
            return ""
        text = text[:50]
        if text.isascii() and not any(c.isdigit() for c in text):
            text = re.sub(r"[\s']", "", text).lower()  # "Zhang San" → "zhangsan"
        return text

    def filters(self) -> VolunteerFilters:
        """The selector's filters (an invalid filter is dropped; the others still apply)."""
        if not self.is_bound:
            return VolunteerFilters()
        self.is_valid()
        data = self.cleaned_data
        min_age, max_age = AGE_BANDS.get(data.get("age") or "", (None, None))
        return VolunteerFilters(
            search=data.get("q") or "",
            org=data.get("org"),
            status=data.get("status") or "",
            skill_ids=[data["skill"].pk] if data.get("skill") else [],
            category_ids=[data["category"].pk] if data.get("category") else [],
            served_group_ids=[data["served"].pk] if data.get("served") else [],
            slots=list(data.get("slot") or []),
            qualification_type_id=data["qualification"].pk if data.get("qualification") else None,
            min_star=data.get("star"),
            political_status=data.get("political") or "",
            min_age=min_age,
            max_age=max_age,
            sort=data.get("sort") or "number",
        )

    def describe(self) -> str:
        """The filter in words, for the export's audit entry: "技能：医疗；状态：已注册"."""
        if not self.is_bound:
            return str(_("全部"))
        self.is_valid()
        parts = []
        for name, field in self.fields.items():
            if name == "sort":
                continue
            value = self.cleaned_data.get(name)
            if value in (None, "", []):
                continue
            if name == "slot":
                text = "、".join(slot_label(code) for code in value)
            elif name == "star":
                text = str(_("%(n)s星及以上") % {"n": value})
            elif isinstance(field, forms.ModelChoiceField) or name == "q":
                text = str(value)
            else:
                text = str(dict(field.choices).get(value, value))
            parts.append(f"{field.label}：{text}")
        return "；".join(parts) or str(_("全部"))


class LookupForm(forms.Form):
    """Exact lookup by a volunteer number, ID number or mobile number: always POSTed."""

    number = forms.CharField(label=_("志愿者编号、身份证号或手机号"), max_length=40)
