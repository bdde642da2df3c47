"""Org pages: the tree browser (roots, lazily loaded children), an org's detail with its
children and role grants, and the manager's forms. Views parse input, call one service or
selector, and render. An org outside the scope is missing (404, via the selectors); a visible
org the user may not manage answers 403."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.orgs import selectors, services
from huzhu.orgs.forms import (
    AccountForm,
    GrantForm,
    OrgCreateForm,
    OrgEditForm,
    add_service_errors,
)
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope

INVALID = 400  # a form sent back with errors


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def _require_manage(scope: Scope, org: Org) -> None:
    # The services check again; checking here too means a manager-only page or an invalid
    # form never tells a non-manager more than "forbidden".
    if not scope.can(Perm.ORG_MANAGE, org):
        raise PermissionDenied(_("您没有管理该组织的权限"))


@login_required
@require_safe
def tree(request: HttpRequest) -> HttpResponse:
    roots = list(selectors.org_tree_roots(scope=_scope(request)))
    # A single root (the usual case: one community, street or city) opens at once.
    return render(request, "orgs/tree.html", {"roots": roots, "expand_roots": len(roots) == 1})


@login_required
@require_safe
def children(request: HttpRequest, org_id: int) -> HttpResponse:
    scope = _scope(request)
    org = selectors.org_get(scope=scope, org_id=org_id)
    kids, _total = selectors.org_children_overview(scope=scope, org=org)
    return render(request, "orgs/_children.html", {"org": org, "children": kids})


def _render_detail(request: HttpRequest, org: Org, status: int = 200, **forms: Any) -> HttpResponse:
    scope = _scope(request)
    kids, resident_total = selectors.org_children_overview(scope=scope, org=org)
    can_manage = scope.can(Perm.ORG_MANAGE, org)
    context: dict[str, Any] = {
        "org": org,
        "ancestors": [a for a in selectors.org_ancestors(scope=scope, org=org) if a.pk != org.pk],
        "children": kids,
        "resident_total": resident_total,
        "grants": list(selectors.grant_list(scope=scope, org=org)),
        "can_manage": can_manage,
        "can_view_history": scope.can(Perm.AUDIT_VIEW, org),
        "open_section": next(iter(forms), "").removesuffix("_form"),
    }
    if can_manage:
        context["child_form"] = forms.get("child_form") or OrgCreateForm(parent=org)
        context["grant_form"] = forms.get("grant_form") or GrantForm()
        context["account_form"] = forms.get("account_form") or AccountForm()
    return render(request, "orgs/detail.html", context, status=status)


@login_required
@require_safe
def detail(request: HttpRequest, org_id: int) -> HttpResponse:
    org = selectors.org_get(scope=_scope(request), org_id=org_id)
    return _render_detail(request, org)


@login_required
@require_POST
def child_create(request: HttpRequest, org_id: int) -> HttpResponse:
    scope = _scope(request)
    org = selectors.org_get(scope=scope, org_id=org_id)
    _require_manage(scope, org)
    form = OrgCreateForm(request.POST, parent=org)
    if form.is_valid():
        try:
            child = services.org_create(
                actor=request.user, scope=scope, parent=org, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("已新增下级组织：%(name)s") % {"name": child.name})
            return redirect("orgs:detail", org_id=org.pk)
    return _render_detail(request, org, INVALID, child_form=form)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def edit(request: HttpRequest, org_id: int) -> HttpResponse:
    scope = _scope(request)
    org = selectors.org_get(scope=scope, org_id=org_id)
    _require_manage(scope, org)
    form = OrgEditForm.for_org(org, request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        if form.is_valid():
            try:
                services.org_update(actor=request.user, scope=scope, org=org, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("已保存组织信息"))
                return redirect("orgs:detail", org_id=org.pk)
        status = INVALID
    ancestors = [a for a in selectors.org_ancestors(scope=scope, org=org) if a.pk != org.pk]
    return render(
        request, "orgs/edit.html", {"org": org, "ancestors": ancestors, "form": form}, status=status
    )


@login_required
@require_POST
def grant_create(request: HttpRequest, org_id: int) -> HttpResponse:
    scope = _scope(request)
    org = selectors.org_get(scope=scope, org_id=org_id)
    _require_manage(scope, org)
    form = GrantForm(request.POST)
    if form.is_valid():
        user = form.cleaned_data["user"]
        try:
            grant = services.role_grant_create(
                actor=request.user, scope=scope, org=org, user=user, role=form.cleaned_data["role"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("已授予 %(user)s「%(role)s」角色")
                % {"user": user.get_username(), "role": grant.get_role_display()},
            )
            return redirect("orgs:detail", org_id=org.pk)
    return _render_detail(request, org, INVALID, grant_form=form)


@login_required
@require_POST
def account_create(request: HttpRequest, org_id: int) -> HttpResponse:
    scope = _scope(request)
    org = selectors.org_get(scope=scope, org_id=org_id)
    _require_manage(scope, org)
    form = AccountForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            grant = services.account_create(
                actor=request.user,
                scope=scope,
                org=org,
                username=data["username"],
                password=data["password"],
                role=data["role"],
                display_name=data["display_name"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("已创建账号 %(user)s，角色「%(role)s」")
                % {"user": grant.user.get_username(), "role": grant.get_role_display()},
            )
            return redirect("orgs:detail", org_id=org.pk)
    return _render_detail(request, org, INVALID, account_form=form)


@login_required
@require_POST
def grant_revoke(request: HttpRequest, grant_id: int) -> HttpResponse:
    scope = _scope(request)
    grant = selectors.grant_get(scope=scope, grant_id=grant_id)
    org, username, role = grant.org, grant.user.get_username(), grant.get_role_display()
    own = grant.user_id == request.user.pk
    services.role_grant_revoke(actor=request.user, scope=scope, grant=grant)
    messages.success(
        request, _("已撤销 %(user)s 的「%(role)s」角色") % {"user": username, "role": role}
    )
    if own:  # the user may just have given up the right to see this org
        return redirect("home")
    return redirect("orgs:detail", org_id=org.pk)
