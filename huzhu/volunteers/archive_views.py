"""Archive pages: a volunteer's archive (档案) and its PDF, star status and application,
the workers' star board, honours and evaluations. Views parse input, call one selector or
service, and render. Objects outside the user's scope are missing (404) for every method;
a visible object the user may not change answers 403 (the services decide).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers import archive_selectors as selectors
from huzhu.volunteers import archive_services as services
from huzhu.volunteers.archive_pdf import render_archive_pdf
from huzhu.volunteers.models import EvaluationGrade, HonourLevel, StarApplication, Volunteer

PAGE_SIZE = 50


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def _error_text(exc: ValidationError) -> str:
    return "；".join(exc.messages)


def _next_or(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# --- forms ------------------------------------------------------------------------------


class _BootstrapForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs.setdefault("class", css)

    def add_service_errors(self, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            for name, errors in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, errors)
        else:
            self.add_error(None, exc.messages)


class HonourForm(_BootstrapForm):
    title = forms.CharField(label=gettext_lazy("荣誉名称"), max_length=100)
    level = forms.ChoiceField(
        label=gettext_lazy("级别"), choices=HonourLevel.choices, initial=HonourLevel.COMMUNITY
    )
    awarded_by = forms.CharField(label=gettext_lazy("授予单位"), max_length=100)
    awarded_on = forms.DateField(
        label=gettext_lazy("授予日期"), widget=forms.DateInput(attrs={"type": "date"})
    )


class EvaluationForm(_BootstrapForm):
    year = forms.IntegerField(label=gettext_lazy("年度"), min_value=2000, max_value=2100)
    org = forms.TypedChoiceField(label=gettext_lazy("评价组织"), coerce=int)
    grade = forms.ChoiceField(label=gettext_lazy("评价等级"), choices=EvaluationGrade.choices)
    comment = forms.CharField(
        label=gettext_lazy("评语"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, orgs: list, **kwargs: Any) -> None:
        community = next((o.pk for o in orgs if o.kind == OrgKind.COMMUNITY), None)
        kwargs.setdefault("initial", {"year": timezone.localdate().year - 1, "org": community})
        super().__init__(*args, **kwargs)
        self.orgs = {o.pk: o for o in orgs}
        self.fields["org"].choices = [(o.pk, o.name) for o in orgs]


# --- the archive ----------------------------------------------------------------------------


def _render_archive(
    request: HttpRequest,
    volunteer_id: int,
    *,
    honour_form: HonourForm | None = None,
    evaluation_form: EvaluationForm | None = None,
) -> HttpResponse:
    scope = _scope(request)
    archive = selectors.volunteer_archive(scope=scope, volunteer_id=volunteer_id)
    volunteer = archive.volunteer
    can_manage = scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org)
    if can_manage:
        honour_form = honour_form or HonourForm()
        evaluation_form = evaluation_form or EvaluationForm(
            orgs=selectors.evaluation_orgs(scope=scope, volunteer=volunteer)
        )
    is_own = scope.person_id is not None and scope.person_id == volunteer.person_id
    context = {
        "archive": archive,
        "volunteer": volunteer,
        "person": volunteer.person,
        "star": archive.star,
        "can_manage": can_manage,
        "can_apply": (is_own or can_manage) and bool(archive.star.applicable_levels),
        "can_withdraw": is_own or can_manage,
        "is_own": is_own,
        "honour_form": honour_form,
        "evaluation_form": evaluation_form,
        "printed_at": timezone.localtime(),
        "thresholds": selectors.star_thresholds_table(),
    }
    return render(request, "volunteers/archive.html", context)


@require_safe
@login_required
def archive(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    return _render_archive(request, volunteer_id)


@require_safe
@login_required
@never_cache
def archive_pdf(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    scope = _scope(request)
    record = selectors.volunteer_archive(scope=scope, volunteer_id=volunteer_id)
    content = render_archive_pdf(
        record, printed_by=request.user.get_username(), printed_at=timezone.now()
    )
    services.archive_printed(actor=request.user, volunteer=record.volunteer, fmt="pdf")
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="archive-{record.volunteer.number}.pdf"'
    return response


@require_POST
@login_required
def honour_add(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    scope = _scope(request)
    volunteer = selectors.volunteer_get(scope=scope, volunteer_id=volunteer_id)
    if not scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org):
        raise PermissionDenied(_("您没有管理该志愿者的权限"))
    form = HonourForm(request.POST)
    if form.is_valid():
        try:
            honour = services.honour_add(
                actor=request.user, scope=scope, volunteer=volunteer, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("已记录荣誉“%(t)s”") % {"t": honour.title})
            return redirect(reverse("volunteers:archive", args=[volunteer.pk]) + "#honours")
    return _render_archive(request, volunteer_id, honour_form=form)


@require_POST
@login_required
def honour_remove(request: HttpRequest, honour_id: int) -> HttpResponse:
    scope = _scope(request)
    honour = selectors.honour_get(scope=scope, honour_id=honour_id)
    volunteer_id = honour.volunteer_id
    services.honour_remove(actor=request.user, scope=scope, honour=honour)
    messages.success(request, _("已删除荣誉“%(t)s”") % {"t": honour.title})
    return redirect(reverse("volunteers:archive", args=[volunteer_id]) + "#honours")


@require_POST
@login_required
def evaluation_add(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    scope = _scope(request)
    volunteer = selectors.volunteer_get(scope=scope, volunteer_id=volunteer_id)
    if not scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org):
        raise PermissionDenied(_("您没有管理该志愿者的权限"))
    form = EvaluationForm(
        request.POST, orgs=selectors.evaluation_orgs(scope=scope, volunteer=volunteer)
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            evaluation = services.evaluation_add(
                actor=request.user,
                scope=scope,
                volunteer=volunteer,
                year=data["year"],
                grade=data["grade"],
                comment=data["comment"],
                org=form.orgs[data["org"]],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request,
                _("已记录%(y)d年度评价：%(g)s")
                % {"y": evaluation.year, "g": evaluation.get_grade_display()},
            )
            return redirect(reverse("volunteers:archive", args=[volunteer.pk]) + "#evaluations")
    return _render_archive(request, volunteer_id, evaluation_form=form)


@require_POST
@login_required
def evaluation_remove(request: HttpRequest, evaluation_id: int) -> HttpResponse:
    scope = _scope(request)
    evaluation = selectors.evaluation_get(scope=scope, evaluation_id=evaluation_id)
    volunteer_id = evaluation.volunteer_id
    services.evaluation_remove(actor=request.user, scope=scope, evaluation=evaluation)
    messages.success(request, _("已撤销%(y)d年度评价") % {"y": evaluation.year})
    return redirect(reverse("volunteers:archive", args=[volunteer_id]) + "#evaluations")


# --- stars ----------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def star_status(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    """A volunteer's stars: standing, history, and the apply button (POST applies)."""
    scope = _scope(request)
    page = selectors.volunteer_star_status(scope=scope, volunteer_id=volunteer_id)
    volunteer = page.volunteer
    if request.method == "POST":
        try:
            application = services.star_apply(
                actor=request.user,
                scope=scope,
                volunteer=volunteer,
                level=request.POST.get("level") or 0,
            )
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(
                request,
                _("已提交%(level)s申请，等待社区公示")
                % {"level": selectors.star_label(application.level)},
            )
        default = reverse("volunteers:star_status", args=[volunteer.pk])
        return redirect(_next_or(request, default))
    is_own = scope.person_id is not None and scope.person_id == volunteer.person_id
    can_manage = scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org)
    context = {
        "volunteer": volunteer,
        "person": volunteer.person,
        "star": page.summary,
        "applications": page.applications,
        "can_manage": can_manage,
        "can_apply": (is_own or can_manage) and bool(page.summary.applicable_levels),
        "can_withdraw": is_own or can_manage,
        "is_own": is_own,
        "thresholds": selectors.star_thresholds_table(),
    }
    return render(request, "volunteers/star_status.html", context)


@require_POST
@login_required
def star_bar(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    scope = _scope(request)
    volunteer = selectors.volunteer_get(scope=scope, volunteer_id=volunteer_id)
    try:
        volunteer = services.star_bar(
            actor=request.user, scope=scope, volunteer=volunteer, reason=request.POST.get("reason")
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.warning(
            request,
            _("已记录服务时长不实，%(d)s前不得申请星级认定")
            % {"d": selectors.cn_date(volunteer.star_barred_until)},
        )
    return redirect(_next_or(request, reverse("volunteers:star_status", args=[volunteer.pk])))


@require_safe
@login_required
def star_board(request: HttpRequest) -> HttpResponse:
    """The workers' star board: eligible but not applied, open applications, publicity."""
    scope = _scope(request)
    if not scope.can(Perm.VOLUNTEER_MANAGE):
        raise PermissionDenied(_("您没有管理志愿者星级的权限"))
    today = timezone.localdate()
    eligible = Paginator(
        selectors.star_eligible_list(scope=scope, today=today), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    for volunteer in eligible:
        volunteer.level_label = (
            selectors.star_label(volunteer.star_level) if volunteer.star_level else _("未认定")
        )
        volunteer.eligible_label = selectors.star_label(volunteer.eligible_level)
        volunteer.hours_display = selectors.format_hours(volunteer.recorded_minutes)
    context = {
        "eligible": eligible,
        "open_applications": selectors.with_display(selectors.star_open_applications(scope=scope)),
        "publicity": selectors.with_display(selectors.star_publicity_list(scope=scope)),
        "today": today,
        "thresholds": selectors.star_thresholds_table(),
        "workdays": settings.HUZHU_STAR_PUBLICITY_WORKDAYS,
    }
    return render(request, "volunteers/star_board.html", context)


def _star_action(request: HttpRequest, application_id: int, action: str) -> HttpResponse:
    scope = _scope(request)
    application: StarApplication = selectors.star_application_get(
        scope=scope, application_id=application_id
    )
    volunteer: Volunteer = application.volunteer
    label = selectors.star_label(application.level)
    name = volunteer.person.name
    reason = request.POST.get("reason") or ""
    try:
        if action == "publicity":
            application = services.star_start_publicity(
                actor=request.user, scope=scope, application=application
            )
            done = _("%(name)s的%(level)s申请开始公示，至%(end)s") % {
                "name": name,
                "level": label,
                "end": selectors.cn_date(application.publicity_ends_on),
            }
            if application.calendar_warning:
                messages.warning(request, application.calendar_warning)
        elif action == "grant":
            services.star_grant(actor=request.user, scope=scope, application=application)
            done = _("已认定%(name)s为%(level)s志愿者") % {"name": name, "level": label}
        elif action == "reject":
            services.star_reject(
                actor=request.user, scope=scope, application=application, reason=reason
            )
            done = _("%(name)s的%(level)s申请未予认定") % {"name": name, "level": label}
        else:
            services.star_withdraw(
                actor=request.user, scope=scope, application=application, reason=reason
            )
            done = _("已撤回%(name)s的%(level)s申请") % {"name": name, "level": label}
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, done)
    if scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org):
        default = reverse("volunteers:stars")
    else:
        default = reverse("volunteers:star_status", args=[volunteer.pk])
    return redirect(_next_or(request, default))


@require_POST
@login_required
def star_publicity(request: HttpRequest, application_id: int) -> HttpResponse:
    return _star_action(request, application_id, "publicity")


@require_POST
@login_required
def star_grant(request: HttpRequest, application_id: int) -> HttpResponse:
    return _star_action(request, application_id, "grant")


@require_POST
@login_required
def star_reject(request: HttpRequest, application_id: int) -> HttpResponse:
    return _star_action(request, application_id, "reject")


@require_POST
@login_required
def star_withdraw(request: HttpRequest, application_id: int) -> HttpResponse:
    return _star_action(request, application_id, "withdraw")
