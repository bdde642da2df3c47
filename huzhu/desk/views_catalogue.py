"""The matter catalogue (事项清单) and the grids' patrol teams (巡查队), from the worker's desk.

The catalogue shows the shared defaults and the types of the orgs in scope (and above them);
a worker adds and edits the types of the orgs they manage the desk of, a superuser the
shared defaults. Each grid in scope gets its patrol team, to which civic reports go.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from huzhu.activities.manage_views import (
    refusal_on_form,
    render_form,
    request_scope,
    require_perm,
)
from huzhu.desk import catalogue_services as catalogue
from huzhu.desk.forms_tickets import MatterForm, PatrolForm
from huzhu.desk.models import MatterType
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope

GET_POST = ["GET", "HEAD", "POST"]


@require_safe
@login_required
def matters(request: HttpRequest) -> HttpResponse:
    """事项清单: shared defaults first, then the types of each org."""
    scope = request_scope(request)
    require_perm(scope, Perm.VIEW)
    rows = [
        {"matter": matter, "editable": catalogue.may_edit_matter(scope, matter)}
        for matter in catalogue.visible_matter_types(scope=scope).order_by(
            "org__path", "kind", "sort_order", "id"
        )
    ]
    shared = [row for row in rows if row["matter"].org_id is None]
    own = [row for row in rows if row["matter"].org_id is not None]
    context = {
        "shared": shared,
        "own": own,
        "can_add": scope.is_superuser or catalogue.catalogue_orgs(scope=scope).exists(),
    }
    return render(request, "desk/catalogue/matters.html", context)


def _require_catalogue(scope: Scope) -> None:
    if not (scope.is_superuser or scope.can(Perm.DESK_MANAGE)):
        raise PermissionDenied(_("没有管理事项清单的权限。"))


@require_http_methods(GET_POST)
@login_required
@never_cache
def matter_new(request: HttpRequest) -> HttpResponse:
    """新增事项 for an org in scope (or a shared default, superusers)."""
    scope = request_scope(request)
    _require_catalogue(scope)
    form = MatterForm(request.POST or None, scope=scope)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            matter = catalogue.matter_type_create(
                actor=request.user, scope=scope, data=form.matter_input()
            )
            messages.success(request, _("已新增事项“%(name)s”。") % {"name": matter.name})
            return redirect("desk:matters")
    return render_form(request, "desk/catalogue/matter_form.html", _form_context(form), form)


@require_http_methods(GET_POST)
@login_required
@never_cache
def matter_edit(request: HttpRequest, matter_id: int) -> HttpResponse:
    """修改事项: the org's own types; shared defaults by superusers only."""
    scope = request_scope(request)
    matter = catalogue.matter_get(scope=scope, matter_id=matter_id)
    if not catalogue.may_edit_matter(scope, matter):
        raise PermissionDenied(
            _("全市通用事项只有系统管理员可以修改。")
            if matter.org_id is None
            else _("没有管理该组织事项清单的权限。")
        )
    form = MatterForm(request.POST or None, scope=scope, matter=matter)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            matter = catalogue.matter_type_update(
                actor=request.user, scope=scope, matter=matter, data=form.matter_input()
            )
            messages.success(request, _("已保存事项“%(name)s”。") % {"name": matter.name})
            return redirect("desk:matters")
    context = _form_context(form, matter)
    return render_form(request, "desk/catalogue/matter_form.html", context, form)


def _form_context(form: MatterForm, matter: MatterType | None = None) -> dict[str, Any]:
    return {"form": form, "matter": matter}


@require_http_methods(GET_POST)
@login_required
@never_cache
def patrols(request: HttpRequest) -> HttpResponse:
    """巡查队: the team each grid's civic reports go to; one row is saved at a time."""
    scope = request_scope(request)
    require_perm(scope, Perm.DESK_MANAGE)
    form = PatrolForm(request.POST or None, scope=scope)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            grid, team = form.cleaned_data["grid"], form.cleaned_data["team"]
            catalogue.patrol_team_set(actor=request.user, scope=scope, grid=grid, team=team)
            if team is None:
                messages.success(request, _("已取消 %(grid)s 的巡查队。") % {"grid": grid.name})
            else:
                messages.success(
                    request,
                    _("%(grid)s 的文明评议将派给 %(team)s。")
                    % {"grid": grid.name, "team": team.name},
                )
            return redirect("desk:patrols")
    context = {
        "rows": catalogue.patrol_rows(scope=scope),
        "form": form,
        "failed_grid": form.data.get("grid") if form.is_bound and form.errors else None,
    }
    return render_form(request, "desk/catalogue/patrols.html", context, form)
