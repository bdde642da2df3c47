"""Forms for the people pages. They parse input only; the rules live in people.services."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from huzhu.common.identity import normalise_text
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.orgs.selectors import org_choices_for_residence
from huzhu.people.models import Gender, Person, ResidenceStatus, TagCategory
from huzhu.people.selectors import AGE_BANDS, tag_choices, tag_filter_choices

# More than four digits in a row looks like (part of) a full ID or phone number: such a
# query must never travel in a URL, so the GET search refuses it.
_LONG_NUMBER = re.compile(r"\d{5,}")

SEARCH_HINT = _("请使用姓名、拼音首字母或证件号后四位搜索；完整号码请用精确查找")

AGE_BAND_LABELS = {
    "under18": _("未满18岁"),
    "18-59": _("18–59岁"),
    "60+": _("60岁及以上"),
    "70+": _("70岁及以上"),
    "80+": _("80岁及以上"),
}


class BootstrapErrorsMixin:
    """Mark a widget ``is-invalid`` whenever an error is added to its field."""

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)  # type: ignore[misc]
        for name in self.errors:  # type: ignore[attr-defined]
            if name in self.fields:  # type: ignore[attr-defined]
                widget = self.fields[name].widget  # type: ignore[attr-defined]
                css = widget.attrs.get("class", "")
                if "is-invalid" not in css:
                    widget.attrs["class"] = f"{css} is-invalid".strip()


def looks_like_full_number(text: str) -> bool:
    return bool(_LONG_NUMBER.search(normalise_text(text)))


class PersonFilterForm(forms.Form):
    """The GET form of the people list: search text and filters."""

    q = forms.CharField(
        label=_("搜索"),
        required=False,  # no max_length: an over-long query must still reach clean_q
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
    org = forms.ModelChoiceField(
        label=_("社区/网格"),
        queryset=None,
        required=False,
        empty_label=_("全部社区/网格"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    tag = forms.ModelChoiceField(
        label=_("标签"),
        queryset=None,
        required=False,
        empty_label=_("全部标签"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", _("全部")), *ResidenceStatus.choices],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    gender = forms.ChoiceField(
        label=_("性别"),
        required=False,
        choices=[("", _("全部")), *Gender.choices],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    age = forms.ChoiceField(
        label=_("年龄段"),
        required=False,
        choices=[("", _("全部")), *AGE_BAND_LABELS.items()],
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refused = False
        self.fields["org"].queryset = org_choices_for_residence(scope=scope, perm=Perm.PERSON_VIEW)
        self.fields["tag"].queryset = tag_filter_choices(scope=scope)

    def clean_q(self) -> str:
        text = (self.cleaned_data.get("q") or "").strip()
        if looks_like_full_number(text):
            self.refused = True
            return ""
        text = text[:50]
        if text.isascii() and not any(c.isdigit() for c in text):
            text = re.sub(r"[\s']", "", text).lower()  # "Zhang San" → "zhangsan"
        return text

    def selector_kwargs(self) -> dict[str, Any]:
        """Arguments for people.selectors.person_list (invalid filters are ignored)."""
        self.is_valid()  # a stale or tampered filter is dropped; the others still apply
        data = self.cleaned_data
        min_age, max_age = AGE_BANDS.get(data.get("age") or "", (None, None))
        tag = data.get("tag")
        return {
            "search": data.get("q") or "",
            "org": data.get("org"),
            "tag_ids": [tag.pk] if tag else None,
            "status": data.get("status") or "",
            "gender": data.get("gender") or "",
            "min_age": min_age,
            "max_age": max_age,
        }


class LookupForm(forms.Form):
    """Exact lookup by a full ID or phone number: always POSTed, never put in a URL."""

    number = forms.CharField(
        label=_("身份证号或手机号"),
        max_length=40,
        widget=forms.TextInput(
            attrs={
                "class": "form-control",
                "autocomplete": "off",
                "inputmode": "text",
                "placeholder": _("完整的身份证号或手机号"),
            }
        ),
    )


def _text(label: Any, *, required: bool = False, **attrs: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        widget=forms.TextInput(attrs={"class": "form-control", **attrs}),
    )


class PersonForm(BootstrapErrorsMixin, forms.Form):
    """Register or edit a person. On edit the ID and phone fields start empty: empty means
    unchanged, and the masked value is shown as the placeholder."""

    name = forms.CharField(
        label=_("姓名"),
        max_length=50,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    id_number = _text(_("身份证号"), autocomplete="off", spellcheck="false")
    phone = _text(_("手机号"), autocomplete="off", inputmode="tel")
    clear_phone = forms.BooleanField(
        label=_("清除手机号"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    org = forms.ModelChoiceField(
        label=_("所属社区/网格"),
        queryset=None,
        empty_label=_("请选择"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    address = _text(_("住址"))
    tags = forms.ModelMultipleChoiceField(
        label=_("标签"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    status = forms.ChoiceField(
        label=_("状态"),
        choices=ResidenceStatus.choices,
        initial=ResidenceStatus.ACTIVE,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    notes = forms.CharField(
        label=_("备注"),
        required=False,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}),
    )

    def __init__(self, *args: Any, scope: Scope, person: Person | None = None, **kwargs: Any):
        self.person = person
        if person is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": person.name,
                    "org": person.org_id,
                    "address": person.address,
                    "tags": [t.pk for t in person.tags.all()],
                    "status": person.status,
                    "notes": person.notes,
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = org_choices_for_residence(scope=scope)
        self.fields["tags"].queryset = tag_choices(person=person)
        if person is None:
            self.fields["id_number"].required = True
            self.fields["id_number"].widget.attrs["placeholder"] = _("18位公民身份号码")
            self.fields["phone"].widget.attrs["placeholder"] = _("11位手机号，可不填")
            del self.fields["clear_phone"]
        else:
            self.fields["id_number"].widget.attrs["placeholder"] = person.id_number_masked
            self.fields["id_number"].help_text = _("不修改请留空")
            self.fields["phone"].widget.attrs["placeholder"] = person.phone_masked or _("未登记")
            self.fields["phone"].help_text = _("不修改请留空")
            if not person.phone_masked:
                del self.fields["clear_phone"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("clear_phone") and (data.get("phone") or "").strip():
            self.add_error("phone", _("手机号：要清除手机号时请不要填写新号码"))
        return data

    def service_kwargs(self) -> dict[str, Any]:
        """Arguments for person_create / person_update from the cleaned data."""
        data = self.cleaned_data
        kwargs: dict[str, Any] = {
            "name": data["name"],
            "org": data["org"],
            "address": data.get("address") or "",
            "tags": list(data.get("tags") or []),
            "status": data["status"],
            "notes": data.get("notes") or "",
        }
        id_number = (data.get("id_number") or "").strip()
        phone = (data.get("phone") or "").strip()
        if self.person is None:
            kwargs["id_number"] = id_number
            kwargs["phone"] = phone
            return kwargs
        if id_number:
            kwargs["id_number"] = id_number
        if phone:
            kwargs["phone"] = phone
        elif data.get("clear_phone"):
            kwargs["phone"] = ""
        return kwargs

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put a service's ValidationError next to the fields it names."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for field, messages in exc.message_dict.items():
            label = self.fields[field].label if field in self.fields else None
            for message in messages:
                text = message
                if label and not str(message).startswith(str(label)):
                    text = f"{label}：{message}"
                self.add_error(field if field in self.fields else None, text)


class TagForm(BootstrapErrorsMixin, forms.Form):
    name = forms.CharField(
        label=_("标签名称"), max_length=30, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    category = forms.ChoiceField(
        label=_("类别"),
        choices=TagCategory.choices,
        initial=TagCategory.OTHER,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    description = forms.CharField(
        label=_("说明"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    is_sensitive = forms.BooleanField(
        label=_("敏感信息（如残疾、低保），仅有权限的工作人员可见"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for field, messages in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)
