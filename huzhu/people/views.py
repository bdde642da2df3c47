"""People pages: list and search, register and edit, detail with audited reveal, my record,
tags. Views parse input, call one selector or service, and render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people import selectors, services
from huzhu.people.forms import (
    SEARCH_HINT,
    LookupForm,
    PersonFilterForm,
    PersonForm,
    TagForm,
)
from huzhu.people.models import Person
from huzhu.web.htmx import is_htmx, render_results

PAGE_SIZE = 50
RESULTS_TARGET = "person-results"
NOT_FOUND = gettext_lazy("未找到与该号码匹配的居民")


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def _require(scope: Scope, perm: str) -> None:
    if not scope.can(perm):
        raise PermissionDenied(_("您没有访问该页面的权限"))


def _rows(scope: Scope, people: list[Person]) -> list[tuple[Person, list]]:
    return [(p, selectors.visible_tags(scope=scope, person=p)) for p in people]


@require_safe
@login_required
def person_list(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    _require(scope, Perm.PERSON_VIEW)
    form = PersonFilterForm(request.GET or None, scope=scope)
    refused = False
    kwargs = {}
    if form.is_bound:
        kwargs = form.selector_kwargs()
        refused = form.refused
    if refused:
        # A full number must not stay in the address bar, the history or the page: drop it
        # from the URL and point to the POST lookup instead.
        clean = request.GET.copy()
        for name in ("q", "page"):
            clean.pop(name, None)
        clean["lookup"] = "1"
        clean_url = f"{request.path}?{clean.urlencode()}"
        if not is_htmx(request):
            messages.warning(request, SEARCH_HINT)
            return redirect(clean_url)
        form.data = clean
    page = None
    rows: list[tuple[Person, list]] = []
    if not refused:
        people = selectors.person_list(scope=scope, **kwargs)
        page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = _rows(scope, list(page.object_list))
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "refused": refused,
        "search_hint": SEARCH_HINT,
        "lookup_form": LookupForm(),
        "open_lookup": refused or request.GET.get("lookup") == "1",
        "can_create": scope.can(Perm.PERSON_EDIT),
        "results_target": RESULTS_TARGET,
    }
    return render_results(
        request,
        page_template="people/person_list.html",
        partial_template="people/_person_results.html",
        target=RESULTS_TARGET,
        context=context,
        replace_url=clean_url if refused else None,
    )


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def person_lookup(request: HttpRequest) -> HttpResponse:
    """Exact lookup by a full ID or phone number. POST only, so the number is never in a URL."""
    scope = _scope(request)
    _require(scope, Perm.PERSON_VIEW)
    if request.method != "POST":
        return redirect("people:list")
    form = LookupForm(request.POST)
    matches: list[Person] = []
    if form.is_valid():
        try:
            matches = selectors.person_lookup_number(
                scope=scope, number=form.cleaned_data["number"]
            )
        except ValidationError as exc:
            form.add_error("number", exc.messages)
        else:
            if len(matches) == 1:
                return redirect("people:detail", person_id=matches[0].pk)
            if not matches:
                form.add_error("number", NOT_FOUND)
    return render(
        request,
        "people/person_lookup.html",
        {"lookup_form": form, "rows": _rows(scope, matches)},
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def person_create(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    _require(scope, Perm.PERSON_EDIT)
    form = PersonForm(request.POST or None, scope=scope)
    if request.method == "POST" and form.is_valid():
        try:
            person = services.person_create(
                actor=request.user, scope=scope, **form.service_kwargs()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("已登记居民 %(name)s") % {"name": person.name})
            return redirect("people:detail", person_id=person.pk)
    return render(request, "people/person_form.html", {"form": form, "person": None})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def person_edit(request: HttpRequest, person_id: int) -> HttpResponse:
    scope = _scope(request)
    person = selectors.person_get(scope=scope, person_id=person_id)
    if not scope.can(Perm.PERSON_EDIT, person.org):
        raise PermissionDenied(_("您没有修改该居民信息的权限"))
    form = PersonForm(request.POST or None, scope=scope, person=person)
    if request.method == "POST" and form.is_valid():
        try:
            services.person_update(
                actor=request.user, scope=scope, person=person, **form.service_kwargs()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("已保存 %(name)s 的信息") % {"name": person.name})
            return redirect("people:detail", person_id=person.pk)
    return render(request, "people/person_form.html", {"form": form, "person": person})


def _detail_context(scope: Scope, person: Person) -> dict:
    return {
        "person": person,
        "tags": selectors.visible_tags(scope=scope, person=person),
        "can_edit": scope.can(Perm.PERSON_EDIT, person.org),
        "can_reveal": scope.can(Perm.PERSON_REVEAL, person.org),
        "can_history": scope.can(Perm.AUDIT_VIEW, person.org),
    }


@require_safe
@login_required
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    scope = _scope(request)
    person = selectors.person_get(scope=scope, person_id=person_id)
    return render(request, "people/person_detail.html", _detail_context(scope, person))


@require_POST
@login_required
@never_cache
def person_reveal(request: HttpRequest, person_id: int) -> HttpResponse:
    """POST: the full ID and phone, audited by the service; a partial for HTMX."""
    scope = _scope(request)
    person = selectors.person_get(scope=scope, person_id=person_id)
    reason = (request.POST.get("reason") or "").strip()[:200]
    revealed = services.person_reveal(actor=request.user, scope=scope, person=person, reason=reason)
    context = {**_detail_context(scope, person), "revealed": revealed}
    if is_htmx(request):
        return render(request, "people/_reveal.html", context)
    return render(request, "people/person_detail.html", context)


@require_safe
@login_required
def me(request: HttpRequest) -> HttpResponse:
    person = selectors.person_for_user(user=request.user)
    return render(request, "people/me.html", {"person": person})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def tags(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    can_manage = scope.is_superuser or scope.can(Perm.ORG_MANAGE)
    if not can_manage:
        _require(scope, Perm.PERSON_VIEW)
    form = TagForm(request.POST or None) if can_manage else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(_("只有管理员可以维护居民标签"))
        if form.is_valid():
            try:
                tag = services.tag_create(actor=request.user, scope=scope, **form.cleaned_data)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("已添加标签“%(name)s”") % {"name": tag.name})
                return redirect("people:tags")
    return render(
        request,
        "people/tags.html",
        {
            "tags": selectors.tag_list_with_counts(scope=scope),
            "form": form,
            "can_list": scope.can(Perm.PERSON_VIEW),
        },
    )
