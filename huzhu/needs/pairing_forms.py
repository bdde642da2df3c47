"""Forms of the 结对帮扶 pages, and the people offered when a worker sets up a pair. The forms
parse input only; the rules live in ``needs.pairing_services``, whose ``ValidationError``
messages are put back next to the field they name."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huzhu.needs.models import PairingStatus
from huzhu.needs.pairing_services import (
    PURPOSE_MAX,
    REASON_MAX,
    VISIT_TEXT_MAX,
    PairingInput,
    VisitInput,
)
from huzhu.orgs.forms import BootstrapForm
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person, ResidenceStatus

CANDIDATES = 20  # people shown for one search
SEARCH_MAX = 50
ALL = "all"


def _text(**attrs: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"class": "form-control", **attrs})


def _textarea(**attrs: Any) -> forms.Textarea:
    return forms.Textarea(attrs={"class": "form-control", "rows": 3, **attrs})


def _number(**attrs: Any) -> forms.NumberInput:
    return forms.NumberInput(attrs={"class": "form-control", **attrs})


def _date() -> forms.DateInput:
    return forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d")


def _checkbox() -> forms.CheckboxInput:
    return forms.CheckboxInput(attrs={"class": "form-check-input"})


class ServiceForm(BootstrapForm):
    """Shows a service's ``ValidationError`` next to the field it names, or above the form."""

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for name, errors in exc.message_dict.items():
            self.add_error(name if name in self.fields else None, errors)


# --- the worker's list --------------------------------------------------------------------


class PairingFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[*PairingStatus.choices, (ALL, _("全部"))],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    quiet = forms.BooleanField(label=_("仅看久未走访"), required=False, widget=_checkbox())

    def filters(self) -> dict[str, Any]:
        """The selector's filters (active pairs by default); an invalid one is dropped."""
        if not self.is_bound:
            return {"status": PairingStatus.ACTIVE, "quiet_only": False}
        self.is_valid()
        status = self.cleaned_data.get("status") or PairingStatus.ACTIVE
        return {
            "status": "" if status == ALL else status,
            "quiet_only": bool(self.cleaned_data.get("quiet")),
        }


# --- setting up a pair --------------------------------------------------------------------


def _party_members() -> QuerySet[Any]:
    from huzhu.volunteers.models import PoliticalStatus, Volunteer

    return Volunteer.objects.filter(
        person_id=OuterRef("pk"),
        political_status__in=(PoliticalStatus.CPC_MEMBER, PoliticalStatus.CPC_PROBATIONARY),
    )


def _volunteers() -> QuerySet[Any]:
    from huzhu.volunteers.models import Volunteer

    return Volunteer.objects.filter(person_id=OuterRef("pk"))


def helper_choices(scope: Scope) -> QuerySet[Person]:
    """Who may help: anyone in residence the worker can see (a volunteer or a party member)."""
    return (
        Person.objects.within(scope)  # type: ignore[attr-defined]
        .filter(status=ResidenceStatus.ACTIVE)
        .select_related("org")
        .defer("id_number_encrypted", "phone_encrypted")
        .annotate(is_volunteer=Exists(_volunteers()), is_party_member=Exists(_party_members()))
    )


def resident_choices(scope: Scope) -> QuerySet[Person]:
    """Who may be helped: residents of the communities the worker manages pairings in."""
    return (
        Person.objects.within(scope, Perm.PAIRING_MANAGE)  # type: ignore[attr-defined]
        .filter(status=ResidenceStatus.ACTIVE)
        .select_related("org")
        .defer("id_number_encrypted", "phone_encrypted")
        .prefetch_related("tags")
    )


def _picked_id(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def candidates(choices: QuerySet[Person], text: str, picked: object = None) -> list[Person]:
    """The first people matching ``text`` (name, pinyin or ID suffix), with the one already
    picked first even when the search no longer finds them."""
    text = text.strip()[:SEARCH_MAX]
    found = list(choices.search(text)[:CANDIDATES]) if text else []  # type: ignore[attr-defined]
    picked_id = _picked_id(picked)
    if picked_id is not None and all(p.pk != picked_id for p in found):
        person = choices.filter(pk=picked_id).first()
        if person is not None:
            found.insert(0, person)
    return found


class PairingForm(ServiceForm):
    """新建结对: the helper and the resident are picked from search results."""

    helper_q = forms.CharField(required=False, max_length=SEARCH_MAX, widget=forms.HiddenInput)
    resident_q = forms.CharField(required=False, max_length=SEARCH_MAX, widget=forms.HiddenInput)
    helper = forms.ModelChoiceField(
        label=_("帮扶人"),
        queryset=Person.objects.none(),
        error_messages={
            "required": _("请先查找并选择帮扶人。"),
            "invalid_choice": _("请从查找结果中选择帮扶人。"),
        },
    )
    resident = forms.ModelChoiceField(
        label=_("帮扶对象"),
        queryset=Person.objects.none(),
        error_messages={
            "required": _("请先查找并选择帮扶对象。"),
            "invalid_choice": _("请从查找结果中选择帮扶对象。"),
        },
    )
    # Not required here: the service refuses an empty purpose in its own words.
    purpose = forms.CharField(
        label=_("帮扶内容"),
        required=False,
        widget=_text(
            maxlength=PURPOSE_MAX, placeholder=_("如：每周上门探望，代购生活用品，陪同就医")
        ),
    )
    visit_every_days = forms.IntegerField(
        label=_("走访周期（天）"),
        error_messages={"required": _("请填写走访周期。"), "invalid": _("请填写天数。")},
        help_text=_("超过这个天数未走访，系统会提醒帮扶人和社区工作人员"),
        widget=_number(min=1, max=366),
    )
    started_on = forms.DateField(
        label=_("结对日期"),
        error_messages={"required": _("请填写结对日期。"), "invalid": _("请填写正确的日期。")},
        widget=_date(),
    )
    helper_is_party_member = forms.BooleanField(
        label=_("党员结对"),
        required=False,
        help_text=_("帮扶人是中共党员（含预备党员）；已登记为志愿者的，以登记的政治面貌为准"),
        widget=_checkbox(),
    )

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"] = {
            "visit_every_days": settings.HUZHU_PAIRING_VISIT_DAYS,
            "started_on": timezone.localdate(),
            **kwargs["initial"],
        }
        super().__init__(*args, **kwargs)
        self.fields["helper"].queryset = helper_choices(scope)
        self.fields["resident"].queryset = resident_choices(scope)

    def pairing_input(self) -> PairingInput:
        data = self.cleaned_data
        return PairingInput(
            helper=data["helper"],
            resident=data["resident"],
            purpose=data.get("purpose") or "",
            started_on=data["started_on"],
            visit_every_days=data["visit_every_days"],
            helper_is_party_member=bool(data.get("helper_is_party_member")),
        )


# --- the visit log and ending a pair ------------------------------------------------------


def _today() -> dt.date:
    return timezone.localdate()


class VisitForm(ServiceForm):
    visited_on = forms.DateField(
        label=_("走访日期"),
        initial=_today,
        error_messages={"required": _("请填写走访日期。"), "invalid": _("请填写正确的日期。")},
        widget=_date(),
    )
    # Not required here: the service asks for what was done in its own words.
    done = forms.CharField(
        label=_("帮扶事项"),
        required=False,
        widget=_textarea(maxlength=VISIT_TEXT_MAX, placeholder=_("如：陪聊、打扫卫生、代买药品")),
    )
    concerns = forms.CharField(
        label=_("反映的困难或诉求"),
        required=False,
        help_text=_("没有可不填；工作人员可据此代发需求"),
        widget=_textarea(rows=2, maxlength=VISIT_TEXT_MAX),
    )
    minutes = forms.IntegerField(
        label=_("时长（分钟）"),
        required=False,
        error_messages={"invalid": _("请填写分钟数。")},
        widget=_number(min=1, max=1440, inputmode="numeric"),
    )

    def visit_input(self) -> VisitInput:
        data = self.cleaned_data
        return VisitInput(
            visited_on=data["visited_on"],
            done=data.get("done") or "",
            concerns=data.get("concerns") or "",
            minutes=data.get("minutes"),
        )


class EndForm(forms.Form):
    # Not required here: the service asks for a reason in its own words.
    reason = forms.CharField(
        label=_("结束原因"),
        required=False,
        widget=_text(maxlength=REASON_MAX, placeholder=_("如：帮扶对象搬离本社区")),
    )

    def reason_text(self) -> str:
        self.is_valid()
        return self.cleaned_data.get("reason") or ""
