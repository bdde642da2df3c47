"""Forms of the member's time-bank pages. They parse input only; the rules (relation,
balance, cap, 通存通兑) live in ``timebank.services`` and ``timebank.family_services``.
Inputs are large: many members are elderly and on phones."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from huzhu.timebank.ledger import MAX_MINUTES
from huzhu.timebank.models import Relation
from huzhu.timebank.selectors import FamilyRow
from huzhu.volunteers.forms import ServiceErrorsMixin

KEY_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def new_form_key() -> str:
    """A fresh key for one rendering of a transfer form: a second submit of the same page
    carries the same key, so the ledger moves nothing twice."""
    return uuid.uuid4().hex


def _large(widget_class: type[forms.Widget] = forms.TextInput, **attrs: Any) -> forms.Widget:
    return widget_class(attrs={"class": "form-control form-control-lg", **attrs})


class OptionsSelect(forms.Select):
    """A select whose options listed in ``disabled_values`` cannot be picked in the page
    (the service still checks the choice: a page is not a rule)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.disabled_values: set[str] = set()

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(*args, **kwargs)
        if str(option["value"]) in self.disabled_values:
            option["attrs"]["disabled"] = True
        return option


class StatementFilterForm(forms.Form):
    """The GET filter of the statement: a year, and a month of it."""

    year = forms.TypedChoiceField(label=_("年度"), required=False, coerce=int, empty_value=None)
    month = forms.TypedChoiceField(
        label=_("月份"), required=False, coerce=int, empty_value=None, choices=[]
    )

    def __init__(self, *args: Any, years: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        select = {"class": "form-select form-select-lg"}
        self.fields["year"].choices = [("", _("全部年度")), *((str(y), str(y)) for y in years)]
        self.fields["year"].widget.attrs.update(select)
        months = [(str(m), gettext("%(m)d月") % {"m": m}) for m in range(1, 13)]
        self.fields["month"].choices = [("", _("全年")), *months]
        self.fields["month"].widget.attrs.update(select)

    def period(self) -> tuple[int | None, int | None]:
        """(year, month); a month without a year, or anything invalid, means everything."""
        if not self.is_bound or not self.is_valid():
            return None, None
        year = self.cleaned_data["year"]
        return (year, self.cleaned_data["month"]) if year is not None else (None, None)


class FamilyDeclareForm(ServiceErrorsMixin, forms.Form):
    relative_id_number = forms.CharField(
        label=_("亲属的身份证号"),
        max_length=30,
        help_text=_("请输入亲属完整的身份证号。亲属须已在社区登记；申报后由社区工作人员核实。"),
        widget=_large(autocomplete="off", inputmode="text", spellcheck="false"),
    )
    relation = forms.ChoiceField(
        label=_("对方是您的"),
        choices=[("", _("请选择关系")), *Relation.choices],
        widget=forms.Select(attrs={"class": "form-select form-select-lg"}),
    )


class AmountForm(ServiceErrorsMixin, forms.Form):
    """Hours (to a tenth) plus a note, and the page's idempotency key."""

    hours = forms.DecimalField(
        label=_("时长（小时）"),
        min_value=Decimal("0.1"),
        max_value=Decimal(MAX_MINUTES // 60),
        max_digits=7,
        decimal_places=1,
        widget=_large(forms.NumberInput, step="0.5", min="0.1", inputmode="decimal"),
        error_messages={
            "required": _("请填写时长。"),
            "invalid": _("时长请填写数字，如 1 或 1.5。"),
            "max_decimal_places": _("时长最多保留一位小数。"),
            "min_value": _("时长至少 0.1 小时。"),
        },
    )
    memo = forms.CharField(
        label=_("留言"), required=False, max_length=100, widget=_large(autocomplete="off")
    )
    key = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        key = (data.get("key") or "").strip()
        if not KEY_PATTERN.match(key):
            # The key is hidden: the message goes above the form.
            self.add_error(None, _("页面已过期，请重新填写后提交。"))
        data["key"] = key
        return data

    @property
    def has_valid_key(self) -> bool:
        return bool(KEY_PATTERN.match(str(self.data.get("key", "")).strip()))

    @property
    def minutes(self) -> int:
        return int(self.cleaned_data["hours"] * 60)


class TransferForm(AmountForm):
    relative = forms.TypedChoiceField(
        label=_("转赠给"),
        coerce=int,
        widget=OptionsSelect(attrs={"class": "form-select form-select-lg"}),
    )
    field_order = ["relative", "hours", "memo", "key"]

    def __init__(self, *args: Any, rows: list[FamilyRow], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["relative"]
        field.choices = [
            ("", _("请选择家人")),
            *((str(row.relative.pk), self._option(row)) for row in rows),
        ]
        field.widget.disabled_values = {
            str(row.relative.pk) for row in rows if row.status != "verified"
        }

    @staticmethod
    def _option(row: FamilyRow) -> str:
        text = f"{row.relative_name}（{row.relation_label}）"
        if row.status != "verified":
            text += gettext("（待核实）")
        return text


class DonateForm(AmountForm):
    pass
