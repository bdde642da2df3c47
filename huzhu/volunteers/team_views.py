"""Corps and team pages: the association → branch → corps → teams chain of the user's scope,
setting up a community's corps, creating teams, and a team's members.

Views parse input, call one selector or service, and render. A team outside the scope is
missing (404, via the selectors); a visible team the user may not manage answers 403. Team
leaders manage their own team's members; only workers appoint leaders and deputies.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from huzhu.orgs.forms import BootstrapForm, add_service_errors
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers import services
from huzhu.volunteers import team_selectors as selectors
from huzhu.volunteers.models import TeamRole

INVALID = 400  # a form sent back with errors
CORPS_PER_PAGE = 20
CANDIDATES_TARGET = "team-candidates"


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _messages(exc: ValidationError) -> str:
    return "；".join(str(m) for m in exc.messages)


# --- forms ------------------------------------------------------------------------------


class CorpsForm(BootstrapForm):
    community = forms.ModelChoiceField(
        label=gettext_lazy("社区"),
        queryset=Org.objects.none(),
        empty_label=gettext_lazy("请选择"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = selectors.communities_without_corps(scope=scope)


class TeamForm(BootstrapForm):
    corps = forms.ModelChoiceField(
        label=gettext_lazy("所属志愿者总队"),
        queryset=Org.objects.none(),
        empty_label=gettext_lazy("请选择"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    name = forms.CharField(
        label=gettext_lazy("服务队名称"),
        max_length=100,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    category = forms.ModelChoiceField(
        label=gettext_lazy("服务类别"),
        queryset=selectors.category_choices(),
        required=False,
        empty_label=gettext_lazy("不限"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    description = forms.CharField(
        label=gettext_lazy("简介"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 2}),
    )

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["corps"].queryset = selectors.corps_choices(scope=scope)


def _role_choices(can_appoint: bool) -> list[tuple[str, str]]:
    return list(TeamRole.choices) if can_appoint else [(TeamRole.MEMBER, TeamRole.MEMBER.label)]


class MemberAddForm(forms.Form):
    volunteer_id = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    number = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    role = forms.ChoiceField(choices=TeamRole.choices, initial=TeamRole.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=TeamRole.choices)


# --- organisation -----------------------------------------------------------------------


def _render_teams(request: HttpRequest, status: int = 200, **forms_: forms.Form) -> HttpResponse:
    scope = _scope(request)
    if not (scope.can(Perm.VOLUNTEER_VIEW) or scope.can(Perm.TEAM_MANAGE)):
        raise PermissionDenied(_("您没有访问该页面的权限"))
    search = (request.GET.get("q") or "").strip()[:50]
    page = Paginator(selectors.corps_list(scope=scope, search=search), CORPS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    overview = selectors.organisation(
        scope=scope, corps_page=list(page.object_list), total_corps=page.paginator.count
    )
    can_manage = scope.can(Perm.VOLUNTEER_MANAGE)
    context: dict[str, Any] = {
        "overview": overview,
        "page": page,
        "search": search,
        "can_manage": can_manage,
        "open_section": next(iter(forms_), "").removesuffix("_form"),
    }
    if can_manage:
        corps_form = forms_.get("corps_form") or CorpsForm(scope=scope)
        team_form = forms_.get("team_form") or TeamForm(
            scope=scope, initial={"corps": request.GET.get("corps")}
        )
        context.update(corps_form=corps_form, team_form=team_form)
    return render(request, "volunteers/team_list.html", context, status=status)


@login_required
@require_safe
def teams(request: HttpRequest) -> HttpResponse:
    return _render_teams(request)


@login_required
@require_POST
def corps_ensure(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    if not scope.can(Perm.VOLUNTEER_MANAGE):
        raise PermissionDenied(_("您没有管理志愿者组织的权限"))
    form = CorpsForm(request.POST, scope=scope)
    if form.is_valid():
        try:
            corps = services.corps_ensure(
                actor=request.user, scope=scope, community=form.cleaned_data["community"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("已建立 %(name)s") % {"name": corps.name})
            return redirect("volunteers:teams")
    return _render_teams(request, INVALID, corps_form=form)


@login_required
@require_POST
def team_create(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    if not scope.can(Perm.VOLUNTEER_MANAGE):
        raise PermissionDenied(_("您没有管理志愿者组织的权限"))
    form = TeamForm(request.POST, scope=scope)
    if form.is_valid():
        data = form.cleaned_data
        try:
            team = services.team_create(
                actor=request.user,
                scope=scope,
                corps=data["corps"],
                name=data["name"],
                category=data["category"],
                description=data["description"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("已成立 %(name)s") % {"name": team.name})
            return redirect("volunteers:team_detail", team_id=team.pk)
    return _render_teams(request, INVALID, team_form=form)


# --- one team ---------------------------------------------------------------------------


def _team_context(scope: Scope, team: Org) -> dict[str, Any]:
    can_appoint = scope.can(Perm.VOLUNTEER_MANAGE, team)
    return {
        "team": team,
        "profile": getattr(team, "team_profile", None),
        "corps": team.parent,
        "community": team.parent.parent if team.parent else None,
        "members": selectors.team_members(team=team),
        "can_manage": can_appoint or scope.can(Perm.TEAM_MANAGE, team),
        "can_appoint": can_appoint,
        "role_choices": _role_choices(can_appoint),
        "roles": TeamRole.choices,
        "results_target": CANDIDATES_TARGET,
        "search": "",
        "candidates": None,
        "can_search_register": scope.can(
            Perm.VOLUNTEER_VIEW, team.parent.parent if team.parent else team
        ),
    }


@login_required
@require_safe
def team_detail(request: HttpRequest, team_id: int) -> HttpResponse:
    scope = _scope(request)
    team = selectors.team_get(scope=scope, team_id=team_id)
    return render(request, "volunteers/team_detail.html", _team_context(scope, team))


@login_required
@require_safe
def team_candidates(request: HttpRequest, team_id: int) -> HttpResponse:
    """Volunteers to add, by name/pinyin/number (HTMX partial, or the page)."""
    scope = _scope(request)
    team = selectors.team_get(scope=scope, team_id=team_id)
    context = _team_context(scope, team)
    if not context["can_manage"]:
        raise PermissionDenied(_("您没有管理该服务队的权限"))
    search = (request.GET.get("q") or "").strip()[:50]
    context.update(
        search=search,
        candidates=selectors.member_candidates(scope=scope, team=team, search=search),
    )
    template = (
        "volunteers/team_candidates.html" if _is_htmx(request) else "volunteers/team_detail.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_POST
def team_member_add(request: HttpRequest, team_id: int) -> HttpResponse:
    scope = _scope(request)
    team = selectors.team_get(scope=scope, team_id=team_id)
    if not (scope.can(Perm.TEAM_MANAGE, team) or scope.can(Perm.VOLUNTEER_MANAGE, team)):
        raise PermissionDenied(_("您没有管理该服务队的权限"))
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请从搜索结果中选择要加入的志愿者"))
        return redirect("volunteers:team_detail", team_id=team.pk)
    data = form.cleaned_data
    volunteer = selectors.candidate_get(
        scope=scope, team=team, volunteer_id=data["volunteer_id"], number=data["number"]
    )
    try:
        services.team_member_add(
            actor=request.user, scope=scope, team=team, volunteer=volunteer, role=data["role"]
        )
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(
            request,
            _("%(name)s 已加入 %(team)s") % {"name": volunteer.person.name, "team": team.name},
        )
    return redirect("volunteers:team_detail", team_id=team.pk)


@login_required
@require_POST
def team_member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    scope = _scope(request)
    membership = selectors.membership_get(scope=scope, membership_id=membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择职务"))
        return redirect("volunteers:team_detail", team_id=membership.team_id)
    try:
        services.team_member_set_role(
            actor=request.user, scope=scope, membership=membership, role=form.cleaned_data["role"]
        )
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(
            request,
            _("%(name)s 的职务已改为%(role)s")
            % {
                "name": membership.volunteer.person.name,
                "role": TeamRole(form.cleaned_data["role"]).label,
            },
        )
    return redirect("volunteers:team_detail", team_id=membership.team_id)


@login_required
@require_POST
def team_member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    scope = _scope(request)
    membership = selectors.membership_get(scope=scope, membership_id=membership_id)
    try:
        services.team_member_remove(actor=request.user, scope=scope, membership=membership)
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(
            request,
            _("%(name)s 已退出 %(team)s")
            % {"name": membership.volunteer.person.name, "team": membership.team.name},
        )
    return redirect("volunteers:team_detail", team_id=membership.team_id)
