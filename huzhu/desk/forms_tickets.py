"""Forms of the worker's service desk. They parse input only; the rules live in
``desk.services`` and ``desk.catalogue_services``, whose ``ValidationError`` messages are
put back next to the field they name."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from huzhu.activities.manage_forms import ServiceForm
from huzhu.desk.catalogue_services import (
    MatterInput,
    catalogue_orgs,
    managed_grids,
    team_choices,
    visible_matter_types,
)
from huzhu.desk.models import Channel, MatterKind, MatterType, Ticket, TicketStatus
from huzhu.desk.services import STAFF_CHANNELS, FollowUp, TicketInput
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.forms import looks_like_full_number
from huzhu.web.forms import choice_filter, model_filter

VISITOR_LOG_MAX_DAYS = 366
TICKET_NUMBER = re.compile(r"^GD\d+$", re.IGNORECASE)  # a ticket's number is not personal
OPEN = "open"


def _text(**attrs: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"class": "form-control", **attrs})


def _textarea(rows: int = 3, **attrs: Any) -> forms.Textarea:
    return forms.Textarea(attrs={"class": "form-control", "rows": rows, **attrs})


def _select() -> forms.Select:
    return forms.Select(attrs={"class": "form-select"})


def _check() -> forms.CheckboxInput:
    return forms.CheckboxInput(attrs={"class": "form-check-input"})


def _date() -> forms.DateInput:
    return forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d")


def _optional_text(label: Any, limit: int, rows: int = 0, **attrs: Any) -> forms.CharField:
    # Not required here: the service refuses an empty text in its own words.
    widget = _textarea(rows, maxlength=limit, **attrs) if rows else _text(maxlength=limit, **attrs)
    return forms.CharField(label=label, required=False, max_length=limit, widget=widget)


class PhotoInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several photos from one ``<input type=file multiple>``; the service checks them."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", PhotoInput(attrs={"class": "form-control", "accept": "image/*"})
        )
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        items = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(PhotosField, self).clean(item, initial) for item in items]


def matter_choices(matters: QuerySet[MatterType]) -> list[tuple[Any, Any]]:
    """Active types grouped by kind, for a ``<select>`` with optgroups."""
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for matter in matters:
        if matter.is_active:
            groups[matter.kind].append((str(matter.pk), matter.name))
    return [
        (MatterKind(kind).label, groups[kind]) for kind in MatterKind.values if groups.get(kind)
    ]


# --- the ticket list ------------------------------------------------------------------------


class TicketFilterForm(forms.Form):
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        widget=forms.TextInput(
            attrs={
                "class": "form-control",
                "type": "search",
                "placeholder": _("工单编号、标题或地点"),
                "autocomplete": "off",
                "maxlength": 50,
            }
        ),
    )
    status = choice_filter(_("状态"), [(OPEN, _("未办结")), *TicketStatus.choices], _("全部状态"))
    channel = choice_filter(_("渠道"), Channel.choices, _("全部渠道"))
    matter_type = forms.ChoiceField(label=_("事项"), required=False, widget=_select())
    grid = model_filter(_("网格"), _("全部网格"))
    overdue = forms.BooleanField(label=_("仅看逾期"), required=False, widget=_check())
    mine = forms.BooleanField(label=_("我首问的"), required=False, widget=_check())
    team = forms.BooleanField(label=_("本队承办的"), required=False, widget=_check())

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        matters = visible_matter_types(scope=scope)
        self.fields["matter_type"].choices = [("", _("全部事项")), *matter_choices(matters)]
        self.fields["grid"].queryset = (
            Org.objects.within(scope)  # type: ignore[attr-defined]
            .filter(kind=OrgKind.GRID, is_active=True)
            .order_by("path")
        )
        if not scope.can(Perm.DESK_HANDLE):
            del self.fields["team"]

    def clean_q(self) -> str:
        text = (self.cleaned_data.get("q") or "").strip()[:50]
        if looks_like_full_number(text) and not TICKET_NUMBER.match(text):
            raise ValidationError(_("请用工单编号、标题或地点搜索，不要输入完整证件号或手机号。"))
        return text

    def filters(self, today: dt.date) -> dict[str, Any]:
        """Keyword arguments of ``selectors.ticket_list``; an invalid filter is dropped."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = self.cleaned_data
        grid = data.get("grid")
        matter_type = data.get("matter_type") or ""
        return {
            "status": data.get("status") or "",
            "channel": data.get("channel") or "",
            "matter_type_id": int(matter_type) if matter_type.isdigit() else None,
            "grid_id": grid.pk if grid else None,
            "overdue_on": today if data.get("overdue") else None,
            "mine": bool(data.get("mine")),
            "team_only": bool(data.get("team")),
            "query": data.get("q") or "",
        }


class VisitorLogForm(forms.Form):
    date_from = forms.DateField(label=_("从"), required=False, widget=_date())
    date_to = forms.DateField(label=_("至"), required=False, widget=_date())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                raise ValidationError(_("开始日期不能晚于结束日期。"))
            if (end - start).days >= VISITOR_LOG_MAX_DAYS:
                raise ValidationError(_("一次最多查看一年的来访登记。"))
        return data

    def span(self, today: dt.date) -> tuple[dt.date, dt.date]:
        """The dates asked for; today when nothing (or something invalid) was asked."""
        if not (self.is_bound and self.is_valid()):
            return today, today
        start = self.cleaned_data.get("date_from") or self.cleaned_data.get("date_to") or today
        end = self.cleaned_data.get("date_to") or max(start, today)
        return start, end


# --- intake -------------------------------------------------------------------------------


class PlaceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Org) -> str:
        return f"　— {obj.name}" if obj.kind == OrgKind.GRID else obj.name


class IntakeForm(ServiceForm):
    """登记: a walk-in visit (来访) or a call (来电), for a registered resident (chosen
    beforehand) or for a name and phone."""

    error_fields = {"org": "place", "grid": "place", "reporter": "contact_name"}

    channel = forms.ChoiceField(
        label=_("渠道"),
        choices=[(c.value, c.label) for c in STAFF_CHANNELS],
        initial=Channel.WALK_IN,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    place = PlaceField(
        label=_("社区/网格"),
        queryset=Org.objects.none(),
        empty_label=_("请选择"),
        widget=_select(),
    )
    matter_type = forms.ChoiceField(label=_("事项"), widget=_select())
    title = _optional_text(_("标题"), 60, placeholder=_("留空则取内容的第一句"))
    description = forms.CharField(
        label=_("反映内容"), max_length=2000, widget=_textarea(4, maxlength=2000)
    )
    address = _optional_text(_("地点"), 200, placeholder=_("楼栋、单元或具体位置"))
    contact_name = _optional_text(_("联系人"), 50)
    contact_phone = _optional_text(_("联系电话"), 20, inputmode="tel", autocomplete="off")
    reporter_public = forms.BooleanField(
        label=_("反映人同意在公示栏显示姓氏"), required=False, widget=_check()
    )
    photos = PhotosField(label=_("照片"), help_text=_("可选多张；位置等信息会自动去除"))

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = (
            Org.objects.within(scope, Perm.DESK_MANAGE)  # type: ignore[attr-defined]
            .filter(kind__in=(OrgKind.COMMUNITY, OrgKind.GRID), is_active=True)
            .order_by("path")
        )
        matters = visible_matter_types(scope=scope, perm=Perm.DESK_MANAGE)
        self.fields["matter_type"].choices = [("", _("请选择事项")), *matter_choices(matters)]
        # Reading out the 一次性告知 as soon as the worker picks the matter.
        self.fields["matter_type"].widget.attrs.update(
            {
                "hx-get": reverse("desk:matter_info"),
                "hx-target": "#matter-info",
                "hx-swap": "outerHTML",
                "hx-trigger": "change",
            }
        )

    def ticket_input(self, reporter_id: int | None) -> TicketInput:
        data = self.cleaned_data
        return TicketInput(
            matter_type_id=int(data["matter_type"]),
            description=data["description"],
            channel=data["channel"],
            title=data.get("title") or "",
            org_id=data["place"].pk,
            address=data.get("address") or "",
            reporter_id=reporter_id,
            contact_name=data.get("contact_name") or "",
            contact_phone=data.get("contact_phone") or "",
            reporter_public=bool(data.get("reporter_public")),
            photos=list(data.get("photos") or []),
        )


class ReporterSearchForm(forms.Form):
    q = forms.CharField(
        label=_("查找登记居民"),
        required=False,
        max_length=30,
        widget=_text(placeholder=_("姓名或拼音首字母"), autocomplete="off", type="search"),
    )

    def clean_q(self) -> str:
        text = (self.cleaned_data.get("q") or "").strip()
        if looks_like_full_number(text):
            raise ValidationError(_("请勿输入完整证件号或手机号，请用姓名或拼音查找。"))
        return text

    def text(self) -> str:
        return self.cleaned_data.get("q", "") if self.is_valid() else ""


# --- the actions on a ticket ---------------------------------------------------------------


class ActionForm(ServiceForm):
    """One action of the detail page; ``name`` keeps each form's element ids apart."""

    name = ""

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.name}_%s")
        super().__init__(*args, **kwargs)
        self.ticket = ticket


class AcceptForm(ActionForm):
    name = "accept"
    note = _optional_text(_("受理说明"), 200)


class AnswerForm(ActionForm):
    name = "answer"
    answer = _optional_text(_("答复内容"), 2000, rows=3)


class AssignForm(ActionForm):
    name = "assign"
    team = forms.ModelChoiceField(
        label=_("承办队伍"),
        queryset=Org.objects.none(),
        required=False,
        empty_label=_("按默认（网格巡查队或事项承办队伍）"),
        widget=_select(),
    )
    note = _optional_text(_("派单说明"), 200)

    def __init__(self, *args: Any, default_team: Org | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        teams = Org.objects.filter(
            kind=OrgKind.TEAM, is_active=True, path__startswith=self.ticket.org.path
        ).order_by("sort_order", "id")
        self.fields["team"].queryset = teams
        if default_team is not None:
            self.fields["team"].initial = default_team.pk


class AcknowledgeForm(ActionForm):
    name = "acknowledge"


class ReturnForm(ActionForm):
    name = "return"
    reason = _optional_text(_("回退理由"), 300, placeholder=_("如：不属于本队职责"))


class NoteForm(ActionForm):
    name = "note"
    note = _optional_text(_("办理进展"), 500, rows=2)
    public = forms.BooleanField(
        label=_("公开（居民和公示栏可见）"), required=False, widget=_check()
    )


class ExtensionForm(ActionForm):
    name = "extension"
    days = forms.IntegerField(
        label=_("延期（工作日）"),
        min_value=1,
        max_value=60,
        widget=forms.NumberInput(attrs={"class": "form-control", "min": 1}),
    )
    reason = _optional_text(_("延期理由"), 300)


class ExtensionDecideForm(ActionForm):
    name = "extension_decide"
    approve = forms.ChoiceField(label=_("审批"), choices=[("1", _("批准延期")), ("0", _("不批准"))])
    note = _optional_text(_("审批意见"), 200)

    def approved(self) -> bool:
        return self.cleaned_data["approve"] == "1"


class ResolveForm(ActionForm):
    name = "resolve"
    result = _optional_text(_("办理结果"), 2000, rows=3)
    photos = PhotosField(label=_("处理结果照片"))


class FollowUpForm(ActionForm):
    name = "follow_up"
    satisfied = forms.TypedChoiceField(
        label=_("居民是否满意"),
        choices=[("1", _("满意，办结")), ("0", _("不满意，退回重办"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    rating = forms.TypedChoiceField(
        label=_("满意度"),
        choices=[("", _("请选择")), *[(str(n), f"{n} ★") for n in range(5, 0, -1)]],
        coerce=int,
        empty_value=None,
        required=False,
        widget=_select(),
    )
    comment = _optional_text(_("居民的评价或不满意的原因"), 300)

    def follow_up(self) -> FollowUp:
        data = self.cleaned_data
        return FollowUp(
            satisfied=data["satisfied"],
            rating=data.get("rating"),
            comment=data.get("comment") or "",
            on_behalf=True,
        )


class CloseForm(ActionForm):
    name = "close"
    note = _optional_text(_("办结说明"), 300, placeholder=_("如：三次电话回访均未接通"))


class LinkForm(ActionForm):
    """并案: the original is one of the similar open tickets, or a typed ticket number of the
    same community."""

    name = "link"
    original = forms.ChoiceField(
        label=_("并入相似工单"),
        required=False,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    number = _optional_text(_("或输入工单编号"), 20, placeholder="GD2025000001")
    note = _optional_text(_("并案说明"), 200)

    def __init__(self, *args: Any, similar: list[Ticket] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["original"].choices = [
            (str(t.pk), f"{t.number} {t.title}") for t in (similar or [])
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        number = (data.get("number") or "").strip().upper()
        chosen = data.get("original") or ""
        if not (number or chosen):
            raise ValidationError(_("请选择相似工单或输入工单编号。"))
        same_org = Ticket.objects.filter(org_id=self.ticket.org_id)
        original = (
            same_org.filter(number=number).first()
            if number
            else same_org.filter(pk=int(chosen)).first()
        )
        if original is None:
            self.add_error("number", _("本社区没有编号为 %(number)s 的工单。") % {"number": number})
        data["original_ticket"] = original
        return data


class PhotoPublishForm(forms.Form):
    public = forms.TypedChoiceField(
        choices=[("1", _("公开")), ("0", _("不公开"))], coerce=lambda v: v == "1"
    )


# --- the catalogue -------------------------------------------------------------------------


class MatterForm(ServiceForm):
    org = forms.ModelChoiceField(
        label=_("所属组织"),
        queryset=Org.objects.none(),
        required=False,
        empty_label=_("全市通用（仅系统管理员）"),
        widget=_select(),
    )
    code = forms.CharField(
        label=_("事项编码"),
        max_length=40,
        help_text=_("小写字母、数字和短横线，如 affair-residence-proof；Open311 的服务编码"),
        widget=_text(maxlength=40, autocomplete="off"),
    )
    name = forms.CharField(label=_("事项名称"), max_length=60, widget=_text(maxlength=60))
    kind = forms.ChoiceField(label=_("类型"), choices=MatterKind.choices, widget=_select())
    group = _optional_text(_("分组"), 30)
    description = _optional_text(_("说明"), 300)
    materials = _optional_text(
        _("一次性告知"), 2000, rows=5, placeholder=_("居民需携带的材料和注意事项，每行一项")
    )
    deadline_days = forms.IntegerField(
        label=_("办理时限（工作日）"),
        initial=5,
        min_value=1,
        max_value=60,
        widget=forms.NumberInput(attrs={"class": "form-control", "min": 1, "max": 60}),
    )
    handling_team = forms.ModelChoiceField(
        label=_("承办队伍"),
        queryset=Org.objects.none(),
        required=False,
        empty_label=_("不指定"),
        widget=_select(),
    )
    keywords = _optional_text(_("关键词"), 200)
    is_public = forms.BooleanField(
        label=_("公开办理情况（公示栏和 Open311，不含反映人）"), required=False, widget=_check()
    )
    sort_order = forms.IntegerField(
        label=_("排序"),
        initial=0,
        required=False,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True, widget=_check())

    def __init__(
        self, *args: Any, scope: Scope, matter: MatterType | None = None, **kwargs: Any
    ) -> None:
        if matter is not None:
            kwargs.setdefault("initial", _matter_initial(matter))
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = catalogue_orgs(scope=scope)
        self.fields["handling_team"].queryset = team_choices(scope=scope)
        if not scope.is_superuser:
            self.fields["org"].required = True
            self.fields["org"].empty_label = _("请选择")

    def matter_input(self) -> MatterInput:
        data = self.cleaned_data
        return MatterInput(
            org=data.get("org"),
            code=data["code"],
            name=data["name"],
            kind=data["kind"],
            deadline_days=data["deadline_days"],
            group=data.get("group") or "",
            description=data.get("description") or "",
            materials=data.get("materials") or "",
            handling_team=data.get("handling_team"),
            keywords=data.get("keywords") or "",
            is_public=bool(data.get("is_public")),
            sort_order=data.get("sort_order") or 0,
            is_active=bool(data.get("is_active")),
        )


def _matter_initial(matter: MatterType) -> dict[str, Any]:
    return {
        "org": matter.org_id,
        "code": matter.code,
        "name": matter.name,
        "kind": matter.kind,
        "group": matter.group,
        "description": matter.description,
        "materials": matter.materials,
        "deadline_days": matter.deadline_days,
        "handling_team": matter.handling_team_id,
        "keywords": matter.keywords,
        "is_public": matter.is_public,
        "sort_order": matter.sort_order,
        "is_active": matter.is_active,
    }


class PatrolForm(ServiceForm):
    grid = forms.ModelChoiceField(queryset=Org.objects.none(), widget=forms.HiddenInput)
    team = forms.ModelChoiceField(
        label=_("巡查队"),
        queryset=Org.objects.none(),
        required=False,
        empty_label=_("未设置"),
        widget=_select(),
    )

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["grid"].queryset = managed_grids(scope=scope)
        self.fields["team"].queryset = team_choices(scope=scope)
