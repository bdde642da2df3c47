"""The home page: a dashboard for users with grants, a large-type card of their own record
for residents and volunteers."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from huzhu.activities.dashboard import organiser_todo, volunteer_home
from huzhu.desk.dashboard import person_tickets
from huzhu.desk.dashboard import worker_todo as desk_worker_todo
from huzhu.needs.dashboard import person_needs, worker_todo
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.selectors import person_get
from huzhu.web import selectors

# Labels for audit verbs on the to-do list; an unknown verb is shown as it is.
AUDIT_VERBS = {
    "org.create": _("新增组织"),
    "org.update": _("修改组织"),
    "org.move": _("移动组织"),
    "role.grant": _("授予角色"),
    "role.revoke": _("撤销角色"),
    "user.create": _("创建账号"),
    "person.create": _("登记居民"),
    "person.update": _("修改居民信息"),
    "person.reveal": _("查看完整号码"),
    "person.link_user": _("关联登录账号"),
    "tag.create": _("新增标签"),
    "tag.update": _("修改标签"),
}


@login_required
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    scope: Scope = request.scope  # type: ignore[attr-defined]
    context: dict = {
        "board": None,
        "me": None,
        "activity_todo": None,
        "volunteer_home": None,
        "needs_todo": None,
        "my_needs": None,
        "desk_todo": None,
        "my_tickets": None,
    }
    if scope.can(Perm.VIEW):
        board = selectors.dashboard(scope=scope)
        if board.recent_audit is not None:
            for entry in board.recent_audit:
                entry.verb_label = AUDIT_VERBS.get(entry.verb, entry.verb)  # type: ignore[attr-defined]
        context["board"] = board
        context["activity_todo"] = organiser_todo(scope=scope)
        context["needs_todo"] = worker_todo(scope=scope)
        context["desk_todo"] = desk_worker_todo(scope=scope)
    if scope.person_id is not None:
        context["me"] = person_get(scope=scope, person_id=scope.person_id)
        context["volunteer_home"] = volunteer_home(scope=scope)
        context["my_needs"] = person_needs(scope=scope)
        context["my_tickets"] = person_tickets(scope=scope)
    return render(request, "web/home.html", context)
