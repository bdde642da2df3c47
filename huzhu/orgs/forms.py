"""Forms for the org pages. They parse input only; the rules (which kinds may hang under
which, division codes, roles, passwords) live in orgs.services, whose ValidationError
messages are put back on the named field with ``add_service_errors``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from huzhu.orgs.models import ALLOWED_CHILDREN, Org, OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.selectors import user_get_by_username


def _text(label: str, max_length: int, required: bool = False, **attrs: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=required,
        widget=forms.TextInput(attrs={"class": "form-control", **attrs}),
    )


def _select(label: str, choices: list[tuple[str, Any]]) -> forms.CharField:
    # A CharField with a Select widget: the options offered are the allowed ones, while the
    # service — not the form — decides what is allowed and says why in its own words.
    return forms.CharField(
        label=label, widget=forms.Select(choices=choices, attrs={"class": "form-select"})
    )


def _coordinate(label: str, placeholder: str, help_text: str = "") -> forms.FloatField:
    # Parsed here, judged by the service (both or neither, the ranges), like the codes.
    return forms.FloatField(
        label=label,
        required=False,
        help_text=help_text,
        error_messages={"invalid": _("请输入数字（十进制度数，如 36.651234）")},
        widget=forms.NumberInput(
            attrs={
                "class": "form-control",
                "step": "0.000001",
                "inputmode": "decimal",
                "placeholder": placeholder,
            }
        ),
    )


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError next to the field it names, or above the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class BootstrapForm(forms.Form):
    """Marks a field's widget ``is-invalid`` whenever an error is added to it, including
    the errors a service raises after the form itself was valid."""

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        for name in self.errors:
            widget = self.fields[name].widget if name in self.fields else None
            if widget is not None and "is-invalid" not in widget.attrs.get("class", ""):
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


class OrgFieldsForm(BootstrapForm):
    name = _text(_("名称"), 100, required=True)
    division_code = _text(
        _("区划代码"),
        32,  # longer than any code, so that the service, not the form, explains the rule
        inputmode="numeric",
        placeholder=_("6位或12位数字，可留空"),
    )
    address = _text(_("地址"), 200)
    service_phone = _text(_("服务电话"), 30)
    supervision_phone = _text(_("监督电话"), 30)
    latitude = _coordinate(
        _("纬度"),
        _("如 36.651234，可留空"),
        _("社区或网格的中心位置（WGS-84，与手机定位一致），需求对接按它计算志愿者的距离"),
    )
    longitude = _coordinate(_("经度"), _("如 117.120456，可留空"))
    sort_order = forms.IntegerField(
        label=_("排序"),
        required=False,
        initial=0,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )

    def clean_sort_order(self) -> int:
        return self.cleaned_data.get("sort_order") or 0


class OrgCreateForm(OrgFieldsForm):
    """A new child under ``parent``; the kinds offered are those allowed under its kind."""

    prefix = "child"
    field_order = ["kind", "name", "division_code"]

    kind = _select(_("类型"), [])

    def __init__(self, *args: Any, parent: Org, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = ALLOWED_CHILDREN.get(parent.kind, frozenset())
        self.allowed_kinds = [(k.value, k.label) for k in OrgKind if k in allowed]
        self.fields["kind"].widget.choices = self.allowed_kinds


class OrgEditForm(OrgFieldsForm):
    prefix = "edit"

    is_active = forms.BooleanField(
        label=_("启用"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    @classmethod
    def for_org(cls, org: Org, data: Any = None) -> OrgEditForm:
        initial = {
            "name": org.name,
            "division_code": org.division_code or "",
            "address": org.address,
            "service_phone": org.service_phone,
            "supervision_phone": org.supervision_phone,
            "latitude": org.latitude,
            "longitude": org.longitude,
            "sort_order": org.sort_order,
            "is_active": org.is_active,
        }
        return cls(data, initial=initial)


class GrantForm(BootstrapForm):
    """A role on this org for an account that already exists."""

    prefix = "grant"

    username = _text(_("用户名"), 150, required=True, autocomplete="off")
    role = _select(_("角色"), Role.choices)

    def clean_username(self) -> Any:
        username = self.cleaned_data["username"].strip()
        user = user_get_by_username(username=username)
        if user is None:
            raise ValidationError(
                _("用户名 %(u)s 不存在；新同事请用“新建账号”"), params={"u": username}
            )
        self.cleaned_data["user"] = user
        return username


class AccountForm(BootstrapForm):
    """A new login with one role on this org."""

    prefix = "account"

    username = _text(_("用户名"), 150, required=True, autocomplete="off")
    display_name = _text(_("姓名"), 150)
    password = forms.CharField(
        label=_("初始密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"class": "form-control", "autocomplete": "new-password"}),
    )
    password_confirm = forms.CharField(
        label=_("确认密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"class": "form-control", "autocomplete": "new-password"}),
    )
    role = _select(_("角色"), Role.choices)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (
            data.get("password")
            and data.get("password_confirm")
            and data["password"] != data["password_confirm"]
        ):
            self.add_error("password_confirm", _("两次输入的密码不一致"))
        return data
