"""The counter's pages for 团体时长 and the 保障基金 (desktop, workers and team leaders).

* ``counter/teams/`` — service teams in scope with their team account balance; a team's
  donate page gives its credits to the community pool or to a resident of the community.
* ``counter/fund/`` — orgs in scope with their guarantee fund balance; an org's fund page
  seeds the fund from the org's issuance account and grants credits to a resident.

The rules live in ``timebank.services`` (``team_donate``, ``guarantee_seed``,
``guarantee_grant``); a refusal is shown next to the field it names and changes nothing.
The reads below are shared with ``timebank.api_fund``; anything outside the scope is a 404.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from huzhu.activities.manage_forms import hours_to_minutes
from huzhu.activities.manage_views import refusal_on_form, render_form, request_scope, require_perm
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.timebank import services
from huzhu.timebank.counter_forms import CounterForm, TokenField
from huzhu.timebank.counter_selectors import counter_orgs, hours_text
from huzhu.timebank.counter_views import _balance, _chosen_member, _search, _without
from huzhu.timebank.models import Account, AccountKind

GET_POST = ["GET", "HEAD", "POST"]
TO_POOL, TO_PERSON = "pool", "person"


# --- reads -----------------------------------------------------------------------------------


def _balance_of(kind: str) -> Coalesce:
    """The balance of the org's account of ``kind`` (0 when it has none), as a subquery."""
    account = Account.objects.filter(org=OuterRef("pk"), kind=kind).values("balance")[:1]
    return Coalesce(Subquery(account, output_field=IntegerField()), Value(0))


def team_list(*, scope: Scope) -> QuerySet[Org]:
    """Active service teams the user manages or whose time bank they see, each with
    ``team_balance`` (minutes). One query however many teams."""
    visible = scope.q("path", Perm.TEAM_MANAGE) | scope.q("path", Perm.TIMEBANK_VIEW)
    return (
        Org.objects.filter(visible, kind=OrgKind.TEAM, is_active=True)
        .annotate(team_balance=_balance_of(AccountKind.TEAM))
        .order_by("path")
    )


def team_get(*, scope: Scope, team_id: int) -> Org:
    return get_object_or_404(team_list(scope=scope), pk=team_id)


def team_community(team: Org) -> Org | None:
    """The community a team belongs to (its pool receives the team's donations)."""
    return Org.objects.ancestors_of(team).filter(kind=OrgKind.COMMUNITY).order_by("-depth").first()


def fund_orgs(*, scope: Scope) -> QuerySet[Org]:
    """Orgs where the user operates the time bank, each with ``fund_balance`` (minutes)."""
    return counter_orgs(scope=scope).annotate(fund_balance=_balance_of(AccountKind.GUARANTEE))


def fund_org_get(*, scope: Scope, org_id: int) -> Org:
    return get_object_or_404(fund_orgs(scope=scope), pk=org_id)


# --- forms -----------------------------------------------------------------------------------


def _hours(label: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        min_value=Decimal("0"),
        max_value=Decimal("10000"),
        max_digits=7,
        decimal_places=2,
        widget=forms.NumberInput(
            attrs={"class": "form-control", "step": "0.01", "inputmode": "decimal"}
        ),
    )


def _text(label: Any, *, required: bool, placeholder: Any = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=200,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": placeholder}),
    )


class TeamDonateForm(CounterForm):
    to = forms.ChoiceField(
        label=gettext_lazy("捐赠给"),
        choices=[
            (TO_POOL, gettext_lazy("社区互助池")),
            (TO_PERSON, gettext_lazy("本社区居民（先在上方查找并选择）")),
        ],
        initial=TO_POOL,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    hours = _hours(gettext_lazy("捐赠时长（小时）"))
    memo = _text(gettext_lazy("摘要"), required=False)
    token = TokenField()
    rule_fields = {
        "amount.positive": "hours",
        "balance.insufficient": "hours",
        "balance.cap": "hours",
        "ledger.too_large": "hours",
        "team.recipient": "to",
        "team.community": "to",
    }

    def minutes(self) -> int:
        return hours_to_minutes(self.cleaned_data["hours"])


class SeedForm(CounterForm):
    hours = _hours(gettext_lazy("注资时长（小时）"))
    reason = _text(
        gettext_lazy("注资依据"), required=False, placeholder=gettext_lazy("如：区民政局拨付")
    )
    token = TokenField()
    rule_fields = {"fund.input": "hours", "ledger.too_large": "hours"}

    def minutes(self) -> int:
        return hours_to_minutes(self.cleaned_data["hours"])


class GrantForm(CounterForm):
    hours = _hours(gettext_lazy("资助时长（小时）"))
    reason = _text(
        gettext_lazy("资助依据"), required=False, placeholder=gettext_lazy("如：特困供养老人")
    )
    token = TokenField()
    rule_fields = {
        "fund.input": "hours",
        "fund.scope": "reason",
        "balance.insufficient": "hours",
        "balance.cap": "hours",
        "ledger.too_large": "hours",
    }

    def minutes(self) -> int:
        return hours_to_minutes(self.cleaned_data["hours"])


# --- 团体时长 --------------------------------------------------------------------------------


def _view_scope(request: HttpRequest, perm: str) -> Scope:
    scope = request_scope(request)
    require_perm(scope, perm)
    return scope


def _can_donate(scope: Scope, team: Org) -> bool:
    return scope.can(Perm.TEAM_MANAGE, team) or scope.can(Perm.TIMEBANK_OPERATE, team)


@require_safe
@login_required
def teams(request: HttpRequest) -> HttpResponse:
    scope = _view_scope(request, Perm.TIMEBANK_VIEW)
    rows = list(team_list(scope=scope))
    for team in rows:
        team.balance_hours = hours_text(team.team_balance)  # type: ignore[attr-defined]
        team.can_donate = _can_donate(scope, team)  # type: ignore[attr-defined]
    return render(request, "timebank/fund/teams.html", {"teams": rows})


@require_http_methods(GET_POST)
@login_required
@never_cache
def team_donate(request: HttpRequest, team_id: int) -> HttpResponse:
    """Give the team's credits to its community pool or to a resident chosen by search."""
    scope = _view_scope(request, Perm.TIMEBANK_VIEW)
    team = team_get(scope=scope, team_id=team_id)
    person = _chosen_member(request, scope, "person")
    initial = {"to": TO_PERSON if person is not None else TO_POOL}
    form = TeamDonateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        to_person = person if form.cleaned_data["to"] == TO_PERSON else None
        if form.cleaned_data["to"] == TO_PERSON and person is None:
            form.add_error("to", _("请先查找并选择受赠居民。"))
        else:
            with refusal_on_form(form):
                _donate(request, scope, team, form, to_person)
                return redirect("timebank:teams")
    community = team_community(team)
    context = {
        "team": team,
        "community": community,
        "balance_hours": hours_text(team.team_balance),
        "person": person,
        "person_balance": _balance(person) if person is not None else "",
        "change_url": _without(request, "person"),
        "search": _search(request, scope, "q", "person"),
        "form": form,
    }
    return render_form(request, "timebank/fund/team_donate.html", context, form)


def _donate(
    request: HttpRequest, scope: Scope, team: Org, form: TeamDonateForm, to_person: Person | None
) -> None:
    transfer = services.team_donate(
        actor=request.user,
        scope=scope,
        team=team,
        minutes=form.minutes(),
        to_person=to_person,
        memo=form.cleaned_data["memo"].strip(),
        idempotency_key=form.cleaned_data.get("token") or "",
    )
    receiver = to_person.name if to_person is not None else _("社区互助池")
    messages.success(
        request,
        _("“%(team)s”已向%(to)s捐赠 %(hours)s 小时（交易 #%(n)d）。")
        % {
            "team": team.name,
            "to": receiver,
            "hours": form.cleaned_data["hours"],
            "n": transfer.pk,
        },
    )


# --- 保障基金 --------------------------------------------------------------------------------


@require_safe
@login_required
def fund(request: HttpRequest) -> HttpResponse:
    scope = _view_scope(request, Perm.TIMEBANK_OPERATE)
    rows = list(fund_orgs(scope=scope))
    for org in rows:
        org.balance_hours = hours_text(org.fund_balance)  # type: ignore[attr-defined]
    return render(request, "timebank/fund/fund.html", {"orgs": rows})


@require_http_methods(GET_POST)
@login_required
@never_cache
def fund_org(request: HttpRequest, org_id: int) -> HttpResponse:
    """One org's guarantee fund: seed it (``action=seed``) or grant from it to a resident
    chosen by search (``action=grant``)."""
    scope = _view_scope(request, Perm.TIMEBANK_OPERATE)
    org = fund_org_get(scope=scope, org_id=org_id)
    person = _chosen_member(request, scope, "person")
    action = request.POST.get("action") if request.method == "POST" else None
    seed_form = SeedForm(request.POST if action == "seed" else None, prefix="seed")
    grant_form = GrantForm(request.POST if action == "grant" else None, prefix="grant")
    if action == "seed" and seed_form.is_valid():
        with refusal_on_form(seed_form):
            _seed(request, scope, org, seed_form)
            return redirect("timebank:fund_org", org_id=org.pk)
    if action == "grant" and grant_form.is_valid():
        if person is None:
            grant_form.add_error(None, _("请先查找并选择受资助的居民。"))
        else:
            with refusal_on_form(grant_form):
                _grant(request, scope, org, person, grant_form)
                return redirect(request.get_full_path())
    context = {
        "org": org,
        "balance_hours": hours_text(org.fund_balance),
        "person": person,
        "person_balance": _balance(person) if person is not None else "",
        "change_url": _without(request, "person"),
        "search": _search(request, scope, "q", "person"),
        "seed_form": seed_form,
        "grant_form": grant_form,
    }
    bound = seed_form if action == "seed" else grant_form
    return render_form(request, "timebank/fund/fund_org.html", context, bound)


def _form_key(request: HttpRequest, what: str, form: CounterForm) -> str:
    """The ledger key of a form's one-time token (per user), or none without a token."""
    token = form.cleaned_data.get("token") or ""
    return f"{what}:{request.user.pk}:{token}" if token else ""


def _seed(request: HttpRequest, scope: Scope, org: Org, form: SeedForm) -> None:
    transfer = services.guarantee_seed(
        actor=request.user,
        scope=scope,
        org=org,
        minutes=form.minutes(),
        reason=form.cleaned_data["reason"],
        idempotency_key=_form_key(request, "fund-seed", form),
    )
    messages.success(
        request,
        _("已为“%(org)s”保障基金注资 %(hours)s 小时（交易 #%(n)d）。")
        % {"org": org.name, "hours": form.cleaned_data["hours"], "n": transfer.pk},
    )


def _grant(request: HttpRequest, scope: Scope, org: Org, person: Person, form: GrantForm) -> None:
    transfer = services.guarantee_grant(
        actor=request.user,
        scope=scope,
        org=org,
        person=person,
        minutes=form.minutes(),
        reason=form.cleaned_data["reason"],
        idempotency_key=_form_key(request, "fund-grant", form),
    )
    messages.success(
        request,
        _("已从保障基金资助 %(name)s %(hours)s 小时（交易 #%(n)d）。")
        % {"name": person.name, "hours": form.cleaned_data["hours"], "n": transfer.pk},
    )
