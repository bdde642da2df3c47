"""Forms of the worker's counter. They parse input only; the rules live in
``timebank.counter_services`` and ``timebank.services``, whose refusals are put back next to
the field they name (a ledger rule by its name, a ``ValidationError`` by its field)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huzhu.activities.manage_forms import ServiceForm, hours_to_minutes, minutes_to_hours
from huzhu.orgs.scope import Scope
from huzhu.people.forms import looks_like_full_number
from huzhu.timebank.counter_selectors import counter_orgs, redeemable_items
from huzhu.timebank.counter_services import ItemInput, PolicyInput
from huzhu.timebank.ledger import LedgerRefusal
from huzhu.timebank.models import ExchangeItem, ExchangeScope, Policy

MAX_PERIOD_DAYS = 3660
FULL_NUMBER_REFUSED = _("请勿输入完整证件号或手机号，请用姓名、拼音或证件号后四位查找。")
RATES_HELP = _("每行一项：服务类别=每小时入账分钟，如“助老服务=90”；未列出的类别 1 小时 = 60 分钟")


def _text(**attrs: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"class": "form-control", **attrs})


def _number(**attrs: Any) -> forms.NumberInput:
    return forms.NumberInput(attrs={"class": "form-control", **attrs})


def _select() -> forms.Select:
    return forms.Select(attrs={"class": "form-select"})


def _date() -> forms.DateInput:
    return forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d")


def _hours(label: Any, *, required: bool = True, help_text: Any = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal("0"),
        max_value=Decimal("10000"),
        max_digits=7,
        decimal_places=2,
        help_text=help_text,
        widget=_number(step="0.01", inputmode="decimal"),
    )


def _optional_int(label: Any, top: int, help_text: Any = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=0,
        max_value=top,
        help_text=help_text,
        widget=_number(),
    )


class CounterForm(ServiceForm):
    """``ServiceForm`` that also places a ledger refusal next to the field of its rule."""

    rule_fields: dict[str, str] = {}

    def add_service_errors(self, exc: ValidationError) -> None:
        if isinstance(exc, LedgerRefusal) and exc.rule in self.rule_fields:
            self.add_error(self.rule_fields[exc.rule], exc.messages)
            return
        super().add_service_errors(exc)


# --- search ----------------------------------------------------------------------------------


class MemberSearchForm(forms.Form):
    """A name, pinyin (initials) or the last digits of an ID number — never a full number
    (it would end up in addresses and logs)."""

    q = forms.CharField(
        label=_("查找居民"),
        required=False,
        max_length=30,
        widget=_text(placeholder=_("姓名、拼音首字母（如 zs）或证件号后四位"), autocomplete="off"),
    )

    def clean_q(self) -> str:
        text = (self.cleaned_data.get("q") or "").strip()
        if looks_like_full_number(text):
            raise ValidationError(
                _("请勿输入完整证件号或手机号，请用姓名、拼音或证件号后四位查找。")
            )
        return text

    def text(self) -> str:
        return self.cleaned_data.get("q", "") if self.is_valid() else ""


# --- the catalogue ---------------------------------------------------------------------------


class ItemForm(CounterForm):
    org = forms.ModelChoiceField(
        label=_("所属组织"), queryset=None, empty_label=_("请选择"), widget=_select()
    )
    name = forms.CharField(label=_("物品名称"), max_length=100, widget=_text())
    description = forms.CharField(label=_("说明"), required=False, max_length=200, widget=_text())
    price_hours = _hours(_("价格（小时）"), help_text=_("兑换一件所需的时间币，1 小时 = 1 时间币"))
    stock = forms.IntegerField(label=_("库存"), min_value=0, max_value=1_000_000, widget=_number())
    is_active = forms.BooleanField(
        label=_("上架（可兑换）"),
        required=False,
        initial=True,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    error_fields = {"price_minutes": "price_hours"}

    def __init__(
        self, *args: Any, scope: Scope, item: ExchangeItem | None = None, **kwargs: Any
    ) -> None:
        if item is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": item.name,
                "description": item.description,
                "price_hours": minutes_to_hours(item.price_minutes),
                "stock": item.stock,
                "is_active": item.is_active,
            }
        super().__init__(*args, **kwargs)
        if item is not None:
            del self.fields["org"]  # an item stays with its org
        else:
            self.fields["org"].queryset = counter_orgs(scope=scope)

    def item_input(self) -> ItemInput:
        data = self.cleaned_data
        return ItemInput(
            name=data["name"],
            description=data.get("description") or "",
            price_minutes=hours_to_minutes(data["price_hours"]),
            stock=data["stock"],
            is_active=bool(data.get("is_active")),
        )


class ItemFilterForm(forms.Form):
    org = forms.ModelChoiceField(
        label=_("组织"), queryset=None, required=False, empty_label=_("全部"), widget=_select()
    )

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = counter_orgs(scope=scope)

    def chosen_org(self) -> Any:
        return self.cleaned_data.get("org") if self.is_valid() else None


# --- redemption and 代办 ---------------------------------------------------------------------


def new_token() -> str:
    return uuid.uuid4().hex


class TokenField(forms.CharField):
    """A one-time key put in the form when it is shown: sending the form twice (a double
    click, a reload) replays the first result instead of doing it twice."""

    def __init__(self) -> None:
        super().__init__(required=False, max_length=64, widget=forms.HiddenInput, initial=new_token)


class RedeemForm(CounterForm):
    item = forms.ModelChoiceField(
        label=_("兑换物品"), queryset=None, empty_label=_("请选择"), widget=_select()
    )
    quantity = forms.IntegerField(
        label=_("数量"), min_value=1, max_value=99, initial=1, widget=_number()
    )
    token = TokenField()
    rule_fields = {
        "exchange.stock": "quantity",
        "exchange.inactive": "item",
        "exchange.scope": "item",
        "balance.insufficient": "quantity",
    }

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["item"].queryset = redeemable_items(scope=scope)
        self.fields["item"].label_from_instance = _item_label

    def key(self) -> str:
        return self.cleaned_data.get("token") or ""


def _item_label(item: ExchangeItem) -> str:
    return f"{item.name}（{minutes_to_hours(item.price_minutes)} 小时，库存 {item.stock}）"


class PayForm(CounterForm):
    """代办支付: hours paid from the resident's account to the helper's, with the
    resident's consent recorded."""

    hours = _hours(_("支付时长（小时）"))
    consent = forms.CharField(
        label=_("本人同意记录"),
        required=False,  # the service refuses an empty consent in its own words
        max_length=200,
        help_text=_("如“本人当面同意”“本人电话同意（2024-05-01 10:00）”"),
        widget=_text(),
    )
    memo = forms.CharField(label=_("摘要"), required=False, max_length=200, widget=_text())
    token = TokenField()
    rule_fields = {
        "spend.consent": "consent",
        "amount.positive": "hours",
        "balance.insufficient": "hours",
        "balance.cap": "hours",
    }

    def minutes(self) -> int:
        return hours_to_minutes(self.cleaned_data["hours"])


# --- family links ----------------------------------------------------------------------------


class EvidenceForm(forms.Form):
    evidence = forms.CharField(
        label=_("核实依据"),
        max_length=200,
        error_messages={"required": _("请填写核实依据（如“户口簿”“结婚证”）。")},
        widget=_text(placeholder=_("如：户口簿、结婚证、出生医学证明")),
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("驳回原因"),
        max_length=200,
        error_messages={"required": _("请填写驳回原因。")},
        widget=_text(),
    )


# --- org flows -------------------------------------------------------------------------------


class PeriodForm(forms.Form):
    start = forms.DateField(label=_("开始日期"), required=False, widget=_date())
    end = forms.DateField(label=_("结束日期"), required=False, widget=_date())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        start, end = self.period_of({})
        kwargs.setdefault("initial", {"start": start, "end": end})
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = self.period_of(data)
        if start > end:
            self.add_error("end", _("结束日期不能早于开始日期。"))
        elif (end - start).days > MAX_PERIOD_DAYS:
            self.add_error("end", _("统计期间不能超过 10 年。"))
        return data

    @staticmethod
    def period_of(data: dict[str, Any]) -> tuple[dt.date, dt.date]:
        today = timezone.localdate()
        return data.get("start") or today.replace(month=1, day=1), data.get("end") or today

    def period(self) -> tuple[dt.date, dt.date]:
        """The chosen period; this year up to today when empty or invalid."""
        if self.is_valid():
            return self.period_of(self.cleaned_data)
        return self.period_of({})


# --- rules -----------------------------------------------------------------------------------

INHERIT = ""
TRI_STATE = (("", _("沿用上级")), ("yes", _("是")), ("no", _("否")))


class PolicyForm(CounterForm):
    """An org's own rules; an empty field inherits from above."""

    credit_limit_hours = _hours(
        _("透支额度（小时）"), required=False, help_text=_("留空沿用上级；0 表示不可透支")
    )
    balance_cap_hours = _hours(
        _("存储上限（小时）"), required=False, help_text=_("留空沿用上级；0 表示不设上限")
    )
    min_redeem_age = _optional_int(
        _("最低兑换年龄（周岁）"), 120, _("留空沿用上级；0 表示不限年龄")
    )
    expiry_months = _optional_int(_("有效期（月）"), 600, _("留空沿用上级；0 表示永久有效"))
    family_includes_friends = forms.ChoiceField(
        label=_("可转赠亲友"), required=False, choices=TRI_STATE, widget=_select()
    )
    exchange_scope = forms.ChoiceField(
        label=_("通存通兑范围"),
        required=False,
        choices=[(INHERIT, _("沿用上级")), *ExchangeScope.choices],
        widget=_select(),
    )
    earn_rates = forms.CharField(
        label=_("各类别入账比例"),
        required=False,
        max_length=2000,
        help_text=_(
            "每行一项：服务类别=每小时入账分钟，如“助老服务=90”；未列出的类别 1 小时 = 60 分钟"
        ),
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}),
    )
    error_fields = {
        "credit_limit_minutes": "credit_limit_hours",
        "balance_cap_minutes": "balance_cap_hours",
    }

    def __init__(self, *args: Any, policy: Policy | None = None, **kwargs: Any) -> None:
        if policy is not None and "initial" not in kwargs:
            kwargs["initial"] = _policy_initial(policy)
        super().__init__(*args, **kwargs)

    def clean_earn_rates(self) -> dict[str, int]:
        rates: dict[str, int] = {}
        for number, line in enumerate((self.cleaned_data.get("earn_rates") or "").splitlines(), 1):
            line = line.strip()
            if not line:
                continue
            name, sep, value = line.replace("＝", "=").partition("=")
            name, value = name.strip(), value.strip()
            if not sep or not name or not value.isdigit() or not 1 <= int(value) <= 600:
                raise ValidationError(
                    _("第 %(n)d 行格式不对：应为“服务类别=每小时入账分钟（1–600）”。")
                    % {"n": number}
                )
            rates[name] = int(value)
        return rates

    def policy_input(self) -> PolicyInput:
        data = self.cleaned_data
        friends = data.get("family_includes_friends") or ""
        return PolicyInput(
            credit_limit_minutes=_minutes_or_none(data.get("credit_limit_hours")),
            balance_cap_minutes=_minutes_or_none(data.get("balance_cap_hours")),
            min_redeem_age=data.get("min_redeem_age"),
            family_includes_friends=None if not friends else friends == "yes",
            expiry_months=data.get("expiry_months"),
            exchange_scope=data.get("exchange_scope") or "",
            earn_rates=data.get("earn_rates") or {},
        )


def _minutes_or_none(hours: Decimal | None) -> int | None:
    return None if hours is None else hours_to_minutes(hours)


def _hours_or_none(minutes: int | None) -> Decimal | None:
    return None if minutes is None else minutes_to_hours(minutes)


def _policy_initial(policy: Policy) -> dict[str, Any]:
    friends = policy.family_includes_friends
    return {
        "credit_limit_hours": _hours_or_none(policy.credit_limit_minutes),
        "balance_cap_hours": _hours_or_none(policy.balance_cap_minutes),
        "min_redeem_age": policy.min_redeem_age,
        "expiry_months": policy.expiry_months,
        "family_includes_friends": "" if friends is None else ("yes" if friends else "no"),
        "exchange_scope": policy.exchange_scope,
        "earn_rates": "\n".join(f"{k}={v}" for k, v in (policy.earn_rates or {}).items()),
    }


# --- adjustments -----------------------------------------------------------------------------


class AdjustmentForm(CounterForm):
    minutes = forms.IntegerField(
        label=_("调整分钟数"),
        help_text=_("正数为补记，负数为扣减；如补记 1.5 小时填 90"),
        min_value=-600_000,
        max_value=600_000,
        widget=_number(),
    )
    reason = forms.CharField(
        label=_("调账原因"),
        required=False,  # the service refuses an empty reason in its own words
        max_length=200,
        widget=_text(),
    )
    rule_fields = {"balance.insufficient": "minutes", "adjust.issuance": "minutes"}
