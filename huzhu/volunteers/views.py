"""Volunteer register pages: self-registration (mobile), entry by a worker, review, search
and export, detail with status actions, edit, my registration. Views parse input, call one
selector or service, and render."""

from __future__ import annotations

import tempfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.selectors import person_for_user
from huzhu.volunteers import selectors, services
from huzhu.volunteers.availability import (
    DAY_LABELS,
    DAYS,
    PERIOD_LABELS,
    PERIODS,
    describe,
    from_mask,
)
from huzhu.volunteers.exports import volunteer_export
from huzhu.volunteers.forms import (
    SEARCH_HINT,
    SORT_LABELS,
    LookupForm,
    RegistrationForm,
    StatusForm,
    VolunteerEditForm,
    VolunteerFilterForm,
)
from huzhu.volunteers.models import RegistrationSource, Volunteer, VolunteerStatus
from huzhu.web.htmx import is_htmx, render_results

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_IN_MEMORY_BYTES = 8 * 1024 * 1024  # larger exports spill to disk and are streamed
PAGE_SIZE = 50
RESULTS_TARGET = "volunteer-results"
NOT_FOUND = gettext_lazy("未找到与该号码匹配的志愿者")

# Which status changes each state offers on the detail page.
STATUS_ACTIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    VolunteerStatus.PENDING: (
        (VolunteerStatus.REGISTERED, gettext_lazy("审核通过"), "success"),
        (VolunteerStatus.REJECTED, gettext_lazy("不通过"), "outline-danger"),
    ),
    VolunteerStatus.REGISTERED: (
        (VolunteerStatus.SUSPENDED, gettext_lazy("暂停"), "outline-warning"),
        (VolunteerStatus.CANCELLED, gettext_lazy("注销"), "outline-danger"),
    ),
    VolunteerStatus.SUSPENDED: (
        (VolunteerStatus.REGISTERED, gettext_lazy("恢复"), "success"),
        (VolunteerStatus.CANCELLED, gettext_lazy("注销"), "outline-danger"),
    ),
}


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def _require(scope: Scope, perm: str) -> None:
    if not scope.can(perm):
        raise PermissionDenied(_("您没有访问该页面的权限"))


def availability_grid(selected: set[str] | list[str]) -> list[dict]:
    """Rows of the 7×3 grid: [{"label": 周一, "cells": [(code, 上午, checked), …]}, …]."""
    chosen = set(selected)
    return [
        {
            "label": DAY_LABELS[d],
            "cells": [
                (f"{day}_{period}", PERIOD_LABELS[p], f"{day}_{period}" in chosen)
                for p, period in enumerate(PERIODS)
            ],
        }
        for d, day in enumerate(DAYS)
    ]


def _form_slots(form: RegistrationForm | VolunteerEditForm | VolunteerFilterForm) -> list[str]:
    name = "slot" if isinstance(form, VolunteerFilterForm) else "availability"
    if form.is_bound:
        return form.data.getlist(name) if hasattr(form.data, "getlist") else []
    return list(form.initial.get(name) or form.fields[name].initial or [])


# --- registration -----------------------------------------------------------------------


def _registration_context(form: RegistrationForm, **extra: object) -> dict:
    return {
        "form": form,
        "grid": availability_grid(_form_slots(form)),
        "period_labels": PERIOD_LABELS,
        **extra,
    }


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def register_self(request: HttpRequest) -> HttpResponse:
    """Mobile self-registration. A person already registered sees their registration."""
    scope = _scope(request)
    existing = selectors.volunteer_for_person(person_id=scope.person_id)
    if existing is not None:
        return render(
            request, "volunteers/register_existing.html", {"volunteer": existing, "mine": True}
        )
    person = person_for_user(user=request.user)
    initial = {"name": person.name, "address": person.address} if person else {}
    initial["street"] = request.GET.get("street") or None  # step one without JavaScript
    form = RegistrationForm(
        request.POST or None,
        scope=scope,
        mode="self",
        initial=initial,
        initial_org=person.org if person else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            result = services.volunteer_register(
                actor=request.user,
                scope=scope,
                org=form.cleaned_data["org"],
                data=form.registration_input(),
                source=RegistrationSource.SELF,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            template = (
                "volunteers/register_done.html"
                if result.created
                else "volunteers/register_existing.html"
            )
            return render(request, template, {"volunteer": result.volunteer, "mine": True})
    return render(request, "volunteers/register_self.html", _registration_context(form))


@require_safe
@login_required
def register_orgs(request: HttpRequest) -> HttpResponse:
    """HTMX: the community/grid options of one street (step two of self-registration)."""
    try:
        street_id = int(request.GET.get("street") or 0)
    except ValueError:
        street_id = 0
    orgs = selectors.registration_orgs(street_id=street_id)
    groups = selectors.residence_org_groups(orgs) if street_id else []
    return render(request, "volunteers/_register_org_options.html", {"groups": groups})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def volunteer_create(request: HttpRequest) -> HttpResponse:
    """A worker registers a resident as a volunteer (paper form, service desk)."""
    scope = _scope(request)
    _require(scope, Perm.VOLUNTEER_MANAGE)
    form = RegistrationForm(request.POST or None, scope=scope, mode="worker")
    if request.method == "POST" and form.is_valid():
        try:
            result = services.volunteer_register(
                actor=request.user,
                scope=scope,
                org=form.cleaned_data["org"],
                data=form.registration_input(),
                source=RegistrationSource.WORKER,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            volunteer = result.volunteer
            if result.created:
                messages.success(
                    request,
                    _("已登记志愿者 %(name)s，编号 %(number)s")
                    % {"name": volunteer.person.name, "number": volunteer.number},
                )
                return redirect("volunteers:detail", volunteer_id=volunteer.pk)
            visible = selectors.visible_volunteers(scope).filter(pk=volunteer.pk).exists()
            return render(
                request,
                "volunteers/register_existing.html",
                {"volunteer": volunteer if visible else None, "mine": False},
            )
    return render(request, "volunteers/register_worker.html", _registration_context(form))


@require_safe
@login_required
def mine(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    volunteer = selectors.volunteer_for_person(person_id=scope.person_id)
    context: dict = {"volunteer": volunteer}
    if volunteer is not None:
        context.update(
            {
                "skills": list(volunteer.skills.all()),
                "categories": list(volunteer.categories.all()),
                "served_groups": list(volunteer.served_groups.all()),
                "availability": describe(volunteer.availability),
            }
        )
    return render(request, "volunteers/mine.html", context)


# --- review and status ------------------------------------------------------------------


@require_safe
@login_required
def review(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    _require(scope, Perm.VOLUNTEER_MANAGE)
    return _render_review(request, scope)


def _render_review(
    request: HttpRequest, scope: Scope, failed: tuple[int, StatusForm] | None = None
) -> HttpResponse:
    queue = selectors.volunteer_review_queue(scope=scope)
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        (v, failed[1] if failed and failed[0] == v.pk else StatusForm()) for v in page.object_list
    ]
    return render(request, "volunteers/review.html", {"page": page, "rows": rows})


@require_POST
@login_required
@never_cache
def volunteer_set_status(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    """Approve or reject (from the review queue), suspend, resume or cancel (detail page)."""
    scope = _scope(request)
    volunteer = selectors.volunteer_get(scope=scope, volunteer_id=volunteer_id)
    if not scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org):
        raise PermissionDenied(_("您没有管理该组织志愿者的权限"))
    form = StatusForm(request.POST)
    from_review = request.POST.get("from") == "review"
    changed = None
    if form.is_valid():
        try:
            changed = services.volunteer_set_status(
                actor=request.user,
                scope=scope,
                volunteer=volunteer,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
    if changed is not None:
        text = _("%(name)s（%(number)s）已变更为“%(status)s”") % {
            "name": changed.person.name,
            "number": changed.number,
            "status": changed.get_status_display(),
        }
        if from_review and is_htmx(request):
            return render(
                request, "volunteers/_review_row.html", {"volunteer": changed, "done": text}
            )
        messages.success(request, text)
        if from_review:
            return redirect("volunteers:review")
        return redirect("volunteers:detail", volunteer_id=volunteer.pk)
    # Errors go next to the field they concern, on the page the form came from.
    if from_review and is_htmx(request):
        return render(
            request, "volunteers/_review_row.html", {"volunteer": volunteer, "form": form}
        )
    if from_review:
        return _render_review(request, scope, failed=(volunteer.pk, form))
    return render(request, "volunteers/detail.html", _detail_context(scope, volunteer, form))


# --- detail and edit --------------------------------------------------------------------


def _detail_context(scope: Scope, volunteer: Volunteer, status_form: StatusForm | None) -> dict:
    can_manage = scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org)
    own = scope.person_id is not None and scope.person_id == volunteer.person_id
    return {
        "volunteer": volunteer,
        "person": volunteer.person,
        "skills": list(volunteer.skills.all()),
        "categories": list(volunteer.categories.all()),
        "served_groups": list(volunteer.served_groups.all()),
        "availability": describe(volunteer.availability),
        "grid": availability_grid(from_mask(volunteer.availability)),
        "period_labels": PERIOD_LABELS,
        "history": selectors.volunteer_status_history(volunteer=volunteer),
        "can_manage": can_manage,
        "can_edit": can_manage or own,
        "can_archive": scope.can(Perm.VOLUNTEER_VIEW, volunteer.org) or own,
        "actions": STATUS_ACTIONS.get(volunteer.status, ()) if can_manage else (),
        "status_form": status_form or StatusForm(),
        "age": volunteer.person.age_on(timezone.localdate()),
    }


@require_safe
@login_required
def volunteer_detail(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    scope = _scope(request)
    volunteer = selectors.volunteer_get(scope=scope, volunteer_id=volunteer_id)
    return render(request, "volunteers/detail.html", _detail_context(scope, volunteer, None))


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def volunteer_edit(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    scope = _scope(request)
    volunteer = selectors.volunteer_get(scope=scope, volunteer_id=volunteer_id)
    can_manage = scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org)
    own = scope.person_id is not None and scope.person_id == volunteer.person_id
    if not (can_manage or own):
        raise PermissionDenied(_("您没有修改该志愿者信息的权限"))
    form = VolunteerEditForm(
        request.POST or None, scope=scope, volunteer=volunteer, can_manage=can_manage
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.volunteer_update(
                actor=request.user, scope=scope, volunteer=volunteer, **form.changes()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request, _("已保存 %(name)s 的志愿者信息") % {"name": volunteer.person.name}
            )
            if own and not can_manage:
                return redirect("volunteers:mine")
            return redirect("volunteers:detail", volunteer_id=volunteer.pk)
    return render(
        request,
        "volunteers/edit.html",
        {
            "form": form,
            "volunteer": volunteer,
            "grid": availability_grid(_form_slots(form)),
            "period_labels": PERIOD_LABELS,
            "own": own and not can_manage,
        },
    )


# --- search, lookup, export -------------------------------------------------------------


def _clean_query_url(request: HttpRequest) -> str:
    """The list's URL with the query text dropped and the exact lookup opened."""
    clean = request.GET.copy()
    for name in ("q", "page"):
        clean.pop(name, None)
    clean["lookup"] = "1"
    return f"{reverse('volunteers:list')}?{clean.urlencode()}"


def _sort_links(form: VolunteerFilterForm) -> dict[str, dict[str, str]]:
    """For each sortable column: the sort key a click applies and the arrow to show."""
    current = (form.cleaned_data.get("sort") if form.is_bound else "") or "number"
    links = {}
    for key, label in SORT_LABELS.items():
        if current == key:
            links[key] = {"sort": f"-{key}", "arrow": "bi-sort-up", "label": label}
        elif current == f"-{key}":
            links[key] = {"sort": key, "arrow": "bi-sort-down", "label": label}
        else:
            links[key] = {"sort": key, "arrow": "", "label": label}
    return links


@require_safe
@login_required
def volunteer_list(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    _require(scope, Perm.VOLUNTEER_VIEW)
    form = VolunteerFilterForm(request.GET or None, scope=scope)
    filters = form.filters()
    refused = form.refused
    clean_url = ""
    if refused:
        # A full number must not stay in the address bar, the history or the page: drop it
        # from the URL and point to the POST lookup instead.
        clean_url = _clean_query_url(request)
        if not is_htmx(request):
            messages.warning(request, SEARCH_HINT)
            return redirect(clean_url)
        form.data = request.GET.copy()
        form.data.pop("q", None)
    page = None
    if not refused:
        rows = selectors.volunteer_rows(scope=scope, filters=filters)
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "refused": refused,
        "search_hint": SEARCH_HINT,
        "lookup_form": LookupForm(),
        "open_lookup": refused or request.GET.get("lookup") == "1",
        "can_create": scope.can(Perm.VOLUNTEER_MANAGE),
        "results_target": RESULTS_TARGET,
        "sorts": _sort_links(form),
        "grid": availability_grid(_form_slots(form)),
        "period_labels": PERIOD_LABELS,
        "slots_chosen": len(_form_slots(form)),
    }
    return render_results(
        request,
        page_template="volunteers/list.html",
        partial_template="volunteers/_list_results.html",
        target=RESULTS_TARGET,
        context=context,
        replace_url=clean_url if refused else None,
    )


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def volunteer_lookup(request: HttpRequest) -> HttpResponse:
    """Exact lookup by volunteer number, ID or phone number. POST only: never in a URL."""
    scope = _scope(request)
    _require(scope, Perm.VOLUNTEER_VIEW)
    if request.method != "POST":
        return redirect("volunteers:list")
    form = LookupForm(request.POST)
    matches: list[Volunteer] = []
    if form.is_valid():
        try:
            matches = selectors.volunteer_lookup_number(
                scope=scope, number=form.cleaned_data["number"]
            )
        except ValidationError as exc:
            form.add_error("number", exc.messages)
        else:
            if len(matches) == 1:
                return redirect("volunteers:detail", volunteer_id=matches[0].pk)
            if not matches:
                form.add_error("number", NOT_FOUND)
    return render(
        request, "volunteers/list_lookup.html", {"lookup_form": form, "volunteers": matches}
    )


@require_safe
@login_required
@never_cache
def volunteer_export_view(request: HttpRequest) -> HttpResponse:
    """The current filter of the list as .xlsx: masked unless the user may reveal every
    row's numbers; watermarked and audited."""
    scope = _scope(request)
    _require(scope, Perm.VOLUNTEER_VIEW)
    form = VolunteerFilterForm(request.GET or None, scope=scope)
    filters = form.filters()
    if form.refused:
        messages.warning(request, SEARCH_HINT)
        return redirect(_clean_query_url(request))
    stream = tempfile.SpooledTemporaryFile(max_size=EXPORT_IN_MEMORY_BYTES)  # noqa: SIM115
    volunteer_export(
        actor=request.user,
        scope=scope,
        filters=filters,
        description=form.describe(),
        stream=stream,
    )
    filename = f"志愿者名册-{timezone.localtime():%Y%m%d-%H%M}.xlsx"
    size = stream.tell()
    stream.seek(0)
    if size <= EXPORT_IN_MEMORY_BYTES:  # small: still in memory, send it as it is
        response = HttpResponse(stream.read(), content_type=XLSX)
        response["Content-Disposition"] = content_disposition_header(True, filename)
        stream.close()
        return response
    # large: streamed from the temporary file on disk, in constant memory
    return FileResponse(stream, as_attachment=True, filename=filename, content_type=XLSX)
