"""结对帮扶 pages: the worker's list of pairs and the form to set one up (desktop), a pair's
page with its visit log (the helper's on the phone, the worker's on the desk), and the
helper's own pairs (我的结对, mobile, large type).

Views parse input, call one selector or service, and render. A pair outside the user's reach
is missing (404, via ``selectors.pairing_get``); a service's refusal is shown in Chinese and
changes nothing. The resident's phone number is never shown here: the helper sees the name
and address they need to visit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.activities.manage_views import (
    INVALID,
    refusal_on_form,
    refusal_shown,
    render_form,
    request_scope,
    require_perm,
)
from huzhu.needs import pairing_services, selectors
from huzhu.needs.models import Pairing, PairingStatus
from huzhu.needs.pairing_forms import (
    EndForm,
    PairingFilterForm,
    PairingForm,
    VisitForm,
    candidates,
    helper_choices,
    resident_choices,
)
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Tag
from huzhu.people.selectors import visible_tags
from huzhu.web.htmx import render_results

PAGE_SIZE = 30
VISITS_PER_PAGE = 20
ENDED_SHOWN = 20  # the helper's ended pairs listed under the active ones
RESULTS_TARGET = "pairing-results"


@dataclass
class PairRow:
    """One pair in a list: how long since the last visit, whether that is past its cycle,
    and the resident's tags the reader may see."""

    pairing: Pairing
    days: int | None
    quiet: bool
    tags: list[Tag]


def _row(scope: Scope, pairing: Pairing, today: dt.date) -> PairRow:
    active = pairing.status == PairingStatus.ACTIVE
    days = selectors.quiet_since(pairing, today) if active else None
    return PairRow(
        pairing=pairing,
        days=days,
        quiet=days is not None and days > pairing.visit_every_days,
        tags=visible_tags(scope=scope, person=pairing.resident),
    )


def _with_tags(pairs: QuerySet[Pairing]) -> QuerySet[Pairing]:
    """The resident's org and tags in two queries for the whole page (``visible_tags``)."""
    return pairs.select_related("resident__org").prefetch_related("resident__tags")


# --- the worker's list --------------------------------------------------------------------


@require_safe
@login_required
def manage_pairings(request: HttpRequest) -> HttpResponse:
    scope = request_scope(request)
    require_perm(scope, Perm.VIEW)
    form = PairingFilterForm(request.GET or None)
    pairs = _with_tags(selectors.pairing_list(scope=scope, **form.filters()))
    page = Paginator(pairs, PAGE_SIZE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    context = {
        "form": form,
        "page": page,
        "rows": [_row(scope, pairing, today) for pairing in page.object_list],
        "results_target": RESULTS_TARGET,
        "can_create": scope.can(Perm.PAIRING_MANAGE),
    }
    return render_results(
        request,
        page_template="needs/pairings/manage_list.html",
        partial_template="needs/pairings/_manage_results.html",
        target=RESULTS_TARGET,
        context=context,
    )


# --- setting up a pair --------------------------------------------------------------------


def _search_text(request: HttpRequest, name: str) -> str:
    data = request.POST if request.method == "POST" else request.GET
    return (data.get(name) or "").strip()


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def pairing_new(request: HttpRequest) -> HttpResponse:
    """Step 1 finds the helper and the resident by name (GET ``helper_q`` / ``resident_q``);
    step 2 picks one of each and posts the pair. ``?helper=`` / ``?resident=`` preselect."""
    scope = request_scope(request)
    require_perm(scope, Perm.PAIRING_MANAGE)
    helper_q, resident_q = _search_text(request, "helper_q"), _search_text(request, "resident_q")
    initial = {
        "helper_q": helper_q,
        "resident_q": resident_q,
        "helper": request.GET.get("helper"),
        "resident": request.GET.get("resident"),
    }
    form = PairingForm(request.POST or None, scope=scope, initial=initial)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            pairing = pairing_services.pairing_create(
                actor=request.user, scope=scope, data=form.pairing_input()
            )
            messages.success(
                request,
                _("已建立结对：%(helper)s 帮扶 %(resident)s。")
                % {"helper": pairing.helper.name, "resident": pairing.resident.name},
            )
            return redirect("needs:pairing_detail", pairing_id=pairing.pk)
    context = {
        "form": form,
        "helper_q": helper_q,
        "resident_q": resident_q,
        "helpers": candidates(helper_choices(scope), helper_q, form["helper"].value()),
        "residents": [
            (person, visible_tags(scope=scope, person=person))
            for person in candidates(resident_choices(scope), resident_q, form["resident"].value())
        ],
    }
    return render_form(request, "needs/pairings/new.html", context, form)


# --- a pair and its visit log -------------------------------------------------------------


def _detail_context(
    request: HttpRequest,
    pairing: Pairing,
    *,
    visit_form: VisitForm | None = None,
) -> dict[str, Any]:
    scope = request_scope(request)
    active = pairing.status == PairingStatus.ACTIVE
    is_helper = pairing.helper_id == selectors.person_id_of(request.user)
    can_manage = scope.can(Perm.PAIRING_MANAGE, pairing.org)
    visits = Paginator(selectors.pairing_visits(pairing=pairing), VISITS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return {
        "pairing": pairing,
        "row": _row(scope, pairing, timezone.localdate()),
        "visits": visits,
        "is_helper": is_helper,
        "is_staff": scope.can(Perm.VIEW, pairing.org),
        "can_log": active and (is_helper or can_manage),
        "can_end": active and can_manage,
        "can_convert": scope.can(Perm.NEED_MANAGE, pairing.org),
        "visit_form": visit_form or VisitForm(),
        "end_form": EndForm(),
    }


@require_safe
@login_required
def pairing_detail(request: HttpRequest, pairing_id: int) -> HttpResponse:
    pairing = selectors.pairing_get(
        user=request.user, scope=request_scope(request), pairing_id=pairing_id
    )
    return render(request, "needs/pairings/detail.html", _detail_context(request, pairing))


@require_POST
@login_required
def pairing_visit(request: HttpRequest, pairing_id: int) -> HttpResponse:
    scope = request_scope(request)
    pairing = selectors.pairing_get(user=request.user, scope=scope, pairing_id=pairing_id)
    form = VisitForm(request.POST)
    if form.is_valid():
        with refusal_on_form(form):
            visit = pairing_services.visit_log(
                actor=request.user, scope=scope, pairing=pairing, data=form.visit_input()
            )
            messages.success(
                request,
                _("已记录 %(day)s 的走访，谢谢您！")
                % {"day": visit.visited_on.strftime("%Y-%m-%d")},
            )
            return redirect("needs:pairing_detail", pairing_id=pairing.pk)
    context = _detail_context(request, pairing, visit_form=form)
    return render(request, "needs/pairings/detail.html", context, status=INVALID)


@require_POST
@login_required
def pairing_end(request: HttpRequest, pairing_id: int) -> HttpResponse:
    scope = request_scope(request)
    pairing = selectors.pairing_get(user=request.user, scope=scope, pairing_id=pairing_id)
    with refusal_shown(request):
        pairing_services.pairing_end(
            actor=request.user,
            scope=scope,
            pairing=pairing,
            reason=EndForm(request.POST).reason_text(),
        )
        messages.success(request, _("已结束该结对。"))
    return redirect("needs:pairing_detail", pairing_id=pairing.pk)


# --- the helper's own pairs ---------------------------------------------------------------


@require_safe
@login_required
def my_pairings(request: HttpRequest) -> HttpResponse:
    scope = request_scope(request)
    person_id = selectors.person_id_of(request.user)
    active: list[PairRow] = []
    ended: list[Pairing] = []
    if person_id is not None:
        mine = selectors.my_pairings(person_id=person_id)
        today = timezone.localdate()
        active = [
            _row(scope, pairing, today)
            for pairing in _with_tags(mine.filter(status=PairingStatus.ACTIVE))
        ]
        # The longest unvisited first: that is where to go next.
        active.sort(key=lambda row: (-(row.days or 0), row.pairing.pk))
        ended = list(
            mine.filter(status=PairingStatus.ENDED).order_by("-ended_on", "-pk")[:ENDED_SHOWN]
        )
    context = {"has_person": person_id is not None, "active": active, "ended": ended}
    return render(request, "needs/pairings/mine.html", context)
