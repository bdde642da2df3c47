"""Forms of the notice boards, the suggestion box and the public contacts. They parse input
only; the rules (who may post which kind, no names on the uncivil board, consent before a
volunteer is named, reply required, phone formats) live in ``desk.board_services`` and come
back as errors beside the fields they name."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huzhu.desk.board_services import (
    REPLY_STATUSES,
    ContactInput,
    NoticeInput,
    SuggestionInput,
)
from huzhu.desk.models import NoticeKind, NoticeStatus, SuggestionStatus
from huzhu.orgs.forms import BootstrapForm
from huzhu.orgs.models import Org

PUBLISH = "publish"
REJECT = "reject"


def _input(widget: type[forms.Widget] = forms.TextInput, large: bool = False, **attrs: Any) -> Any:
    css = "form-control form-control-lg" if large else "form-control"
    return widget(attrs={"class": css, **attrs})


def _select(**attrs: Any) -> forms.Select:
    return forms.Select(attrs={"class": "form-select", **attrs})


def _org_choices(orgs: list[Org], blank: str = "") -> list[tuple[str, str]]:
    choices = [("", blank)] if blank else []
    return choices + [(str(org.pk), org.name) for org in orgs]


class ServiceErrorsForm(BootstrapForm):
    """Puts a service's ValidationError beside the field it names (``error_fields`` maps the
    service's names to the form's), everything else above the fields."""

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


def _int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


# --- notices ---------------------------------------------------------------------------------


class NoticeForm(ServiceErrorsForm):
    """投稿 (a resident: 好人好事 or 不文明行为) or 发布 (a worker: every kind, the community,
    and for 典型事迹 the volunteer named with their consent)."""

    error_fields = {"volunteer": "volunteer_number", "consent_at": "consent_date"}

    kind = forms.ChoiceField(
        label=_("栏目"), widget=forms.RadioSelect, error_messages={"required": _("请选择栏目。")}
    )
    org = forms.ChoiceField(label=_("社区"), required=False, widget=_select())
    title = forms.CharField(
        label=_("标题"), required=False, max_length=60, widget=_input(large=True)
    )
    body = forms.CharField(
        label=_("内容"),
        required=False,
        max_length=3000,
        widget=_input(forms.Textarea, large=True, rows=5),
    )
    place = forms.CharField(
        label=_("地点"),
        required=False,
        max_length=100,
        help_text=_("不文明行为必填，如“3号楼东侧绿地”"),
        widget=_input(large=True),
    )
    volunteer_number = forms.CharField(
        label=_("志愿者编号"),
        required=False,
        max_length=20,
        help_text=_("典型事迹署名的志愿者（可留空）"),
        widget=_input(),
    )
    consent_note = forms.CharField(
        label=_("同意方式"),
        required=False,
        max_length=100,
        help_text=_("如“本人书面同意”；署名志愿者时必填"),
        widget=_input(),
    )
    consent_date = forms.DateField(
        label=_("同意日期"),
        required=False,
        error_messages={"invalid": _("请输入有效的日期。")},
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date", "class": "form-control"}),
    )

    def __init__(self, *args: Any, kinds: list[str], communities: list[Org], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, NoticeKind(k).label) for k in kinds]
        if len(kinds) == 1:
            self.fields["kind"].initial = kinds[0]
        self.as_worker = bool(communities)
        if communities:
            self.fields["org"].choices = _org_choices(communities)
            self.fields["org"].initial = str(communities[0].pk)
        else:
            for name in ("org", "volunteer_number", "consent_note", "consent_date"):
                del self.fields[name]

    def to_input(self) -> NoticeInput:
        data = self.cleaned_data
        consent_at = None
        if data.get("consent_date"):
            consent_at = timezone.make_aware(dt.datetime.combine(data["consent_date"], dt.time(12)))
        return NoticeInput(
            kind=data["kind"],
            title=data["title"],
            body=data["body"],
            place=data["place"],
            org_id=_int_or_none(data.get("org")),
            volunteer_number=data.get("volunteer_number") or "",
            consent_note=data.get("consent_note") or "",
            consent_at=consent_at,
        )


class ModerateForm(BootstrapForm):
    action = forms.ChoiceField(choices=((PUBLISH, _("发布")), (REJECT, _("不予发布"))))
    note = forms.CharField(
        label=_("审核意见"),
        required=False,
        max_length=200,
        help_text=_("不予发布时必填，投稿人可以看到"),
        widget=_input(),
    )


class WithdrawForm(BootstrapForm):
    note = forms.CharField(label=_("撤下理由"), required=False, max_length=200, widget=_input())


class NoticeFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("栏目"), required=False, widget=_select())
    status = forms.ChoiceField(label=_("状态"), required=False, widget=_select())
    org = forms.ChoiceField(label=_("社区"), required=False, widget=_select())

    def __init__(self, *args: Any, communities: list[Org], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("全部栏目")), *NoticeKind.choices]
        self.fields["status"].choices = [("", _("全部状态")), *NoticeStatus.choices]
        self.fields["org"].choices = _org_choices(communities, blank=str(_("全部社区")))

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {"kind": "", "status": "", "org_id": None}
        return {
            "kind": self.cleaned_data["kind"],
            "status": self.cleaned_data["status"],
            "org_id": _int_or_none(self.cleaned_data["org"]),
        }


# --- suggestions -----------------------------------------------------------------------------


class SuggestionForm(ServiceErrorsForm):
    """献良策 (phones first, large inputs)."""

    title = forms.CharField(
        label=_("建议标题"), required=False, max_length=60, widget=_input(large=True)
    )
    body = forms.CharField(
        label=_("您的建议"),
        required=False,
        max_length=3000,
        widget=_input(
            forms.Textarea,
            large=True,
            rows=6,
            placeholder=_("例如：建议在小区东门增设非机动车停车棚"),
        ),
    )
    is_public = forms.BooleanField(
        label=_("同意在社区公示栏公开我的建议和社区的答复"), required=False
    )
    author_public = forms.BooleanField(label=_("公开时显示我的姓氏（如“张**”）"), required=False)

    def to_input(self) -> SuggestionInput:
        data = self.cleaned_data
        return SuggestionInput(
            title=data["title"],
            body=data["body"],
            is_public=data["is_public"],
            author_public=data["author_public"],
        )


class ReplyForm(ServiceErrorsForm):
    status = forms.ChoiceField(
        label=_("答复结果"),
        choices=[(s.value, s.label) for s in REPLY_STATUSES],
        error_messages={"required": _("请选择答复结果。")},
        widget=_select(),
    )
    reply = forms.CharField(
        label=_("答复内容"),
        required=False,
        max_length=2000,
        widget=_input(forms.Textarea, rows=5),
    )


class SuggestionFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), required=False, widget=_select())
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        max_length=50,
        widget=_input(placeholder=_("编号、标题或内容")),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("全部状态")), *SuggestionStatus.choices]

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {"status": "", "query": ""}
        return {"status": self.cleaned_data["status"], "query": self.cleaned_data["q"].strip()}


# --- contacts --------------------------------------------------------------------------------


class ContactForm(ServiceErrorsForm):
    org = forms.ChoiceField(label=_("社区/网格"), widget=_select())
    role = forms.CharField(
        label=_("职责"), required=False, max_length=30, initial="网格员", widget=_input()
    )
    name = forms.CharField(label=_("姓名"), required=False, max_length=30, widget=_input())
    phone = forms.CharField(
        label=_("工作电话"), required=False, max_length=30, widget=_input(inputmode="tel")
    )
    sort_order = forms.IntegerField(
        label=_("排序"),
        required=False,
        min_value=-1000,
        max_value=1000,
        initial=0,
        widget=_input(forms.NumberInput),
    )

    def __init__(self, *args: Any, orgs: list[Org], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = _org_choices(orgs)

    def to_input(self) -> ContactInput:
        data = self.cleaned_data
        return ContactInput(
            org_id=_int_or_none(data["org"]),
            role=data["role"],
            name=data["name"],
            phone=data["phone"],
            sort_order=data["sort_order"] or 0,
        )


class PhonesForm(ServiceErrorsForm):
    service_phone = forms.CharField(
        label=_("服务电话"), required=False, max_length=30, widget=_input(inputmode="tel")
    )
    supervision_phone = forms.CharField(
        label=_("监督电话"), required=False, max_length=30, widget=_input(inputmode="tel")
    )
