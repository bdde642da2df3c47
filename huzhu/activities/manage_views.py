"""The organiser's activity pages (desktop): the list, the activity form, an activity's
overview with its shifts and status actions, the live shift board with per-person actions,
and the full-screen rotating QR code for check-in.

Views parse input, call one selector or service, and render. An object outside the user's
scope is missing (404, via the selectors); a refusal by a service — a rule, or a missing
permission on an object the user may see — is shown as a message and changes nothing.
Service records and certificates are in ``activities.record_views``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.activities import checkin, selectors, services
from huzhu.activities.manage_forms import (
    WEEKDAYS,
    ActivityFilterForm,
    ActivityForm,
    AttendanceCorrectForm,
    BeneficiaryForm,
    CheckForm,
    DecideForm,
    OrganiserSignupForm,
    ReasonForm,
    ShiftForm,
    StatusForm,
    forget_full_number,
)
from huzhu.activities.manage_selectors import volunteer_candidates, volunteer_for_signup
from huzhu.activities.models import Activity, ActivityStatus, CheckMethod, Shift, Signup
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.web.htmx import render_results

INVALID = 400  # a form sent back with errors
PAGE_SIZE = 30
SHIFTS_PER_PAGE = 50
RESULTS_TARGET = "activity-results"
BOARD_POLL_SECONDS = 10
QR_POLL_SECONDS = 5

# The buttons each target status gets on the overview (cancel has its own form).
STATUS_BUTTONS: dict[str, tuple[Any, str]] = {
    ActivityStatus.RECRUITING: (gettext_lazy("发布（开始招募）"), "danger"),
    ActivityStatus.RUNNING: (gettext_lazy("开始活动"), "success"),
    ActivityStatus.CLOSED: (gettext_lazy("结项"), "outline-secondary"),
}
RESUME_LABEL = gettext_lazy("恢复招募")


def request_scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def require_perm(scope: Scope, perm: str) -> None:
    if not scope.can(perm):
        raise PermissionDenied(_("您没有访问该页面的权限"))


def require_manage(scope: Scope, activity: Activity) -> None:
    """Form pages of an activity the user may see but not manage answer 403."""
    if not scope.can(Perm.ACTIVITY_MANAGE, activity.org):
        raise PermissionDenied(_("没有在该组织发布和管理活动的权限。"))


def refusal(exc: ValidationError | PermissionDenied) -> str:
    """A service's refusal as one line for a message."""
    if isinstance(exc, PermissionDenied):
        return str(exc) or _("您没有进行该操作的权限。")
    return "；".join(str(m) for m in exc.messages)


def refuse(request: HttpRequest, exc: ValidationError | PermissionDenied) -> None:
    messages.error(request, refusal(exc))


@contextmanager
def refusal_shown(request: HttpRequest) -> Iterator[None]:
    """Run the block (a service call, then what follows its success); a service's refusal
    ends the block and is shown as an error message."""
    try:
        yield
    except (ValidationError, PermissionDenied) as exc:
        refuse(request, exc)


@contextmanager
def refusal_on_form(form: Any) -> Iterator[None]:
    """Like ``refusal_shown``, but the refusal goes onto the form: a rule next to the field
    it names, a missing permission above the fields."""
    try:
        yield
    except PermissionDenied as exc:
        form.add_error(None, refusal(exc))
    except ValidationError as exc:
        form.add_service_errors(exc)


def render_form(
    request: HttpRequest, template: str, context: dict[str, Any], form: forms.Form
) -> HttpResponse:
    """A form page: 400 when the form was sent back with errors, else 200."""
    status = INVALID if form.is_bound and form.errors else 200
    return render(request, template, context, status=status)


def posted_reason(request: HttpRequest) -> str:
    """The optional reason posted with a button ("" when missing or invalid: the service
    says whether it needs one)."""
    form = ReasonForm(request.POST)
    form.is_valid()
    return form.cleaned_data.get("reason") or ""


def _name(signup: Signup) -> str:
    return signup.volunteer.person.name


# --- the list -----------------------------------------------------------------------------


@require_safe
@login_required
def manage_list(request: HttpRequest) -> HttpResponse:
    scope = request_scope(request)
    require_perm(scope, Perm.VIEW)
    form = ActivityFilterForm(request.GET or None)
    rows = selectors.activity_list(scope=scope, **form.filters())
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "results_target": RESULTS_TARGET,
        "can_create": scope.can(Perm.ACTIVITY_MANAGE),
    }
    return render_results(
        request,
        page_template="activities/manage/list.html",
        partial_template="activities/manage/_list_results.html",
        target=RESULTS_TARGET,
        context=context,
    )


# --- the activity form --------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def activity_create(request: HttpRequest) -> HttpResponse:
    scope = request_scope(request)
    require_perm(scope, Perm.ACTIVITY_MANAGE)
    form = ActivityForm(request.POST or None, scope=scope)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            activity = services.activity_create(
                actor=request.user,
                scope=scope,
                org=form.cleaned_data["org"],
                data=form.activity_input(),
            )
            messages.success(
                request,
                _("已创建活动“%(title)s”，请添加班次后发布。") % {"title": activity.title},
            )
            return redirect("activities:manage_detail", activity_id=activity.pk)
    return _render_activity_form(request, form, None)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def activity_edit(request: HttpRequest, activity_id: int) -> HttpResponse:
    scope = request_scope(request)
    activity = selectors.activity_get_managed(scope=scope, activity_id=activity_id)
    require_manage(scope, activity)
    form = ActivityForm(request.POST or None, scope=scope, activity=activity)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            services.activity_update(
                actor=request.user, scope=scope, activity=activity, data=form.activity_input()
            )
            messages.success(request, _("已保存活动“%(title)s”。") % {"title": activity.title})
            return redirect("activities:manage_detail", activity_id=activity.pk)
    return _render_activity_form(request, form, activity)


def _render_activity_form(
    request: HttpRequest, form: ActivityForm, activity: Activity | None
) -> HttpResponse:
    context = {
        "form": form,
        "activity": activity,
        "has_orgs": activity is not None or form.fields["org"].queryset.exists(),
    }
    return render_form(request, "activities/manage/form.html", context, form)


# --- an activity's overview ---------------------------------------------------------------


def _status_actions(activity: Activity) -> list[dict[str, Any]]:
    allowed = services.TRANSITIONS.get(activity.status, frozenset())
    actions = []
    for target in (ActivityStatus.RECRUITING, ActivityStatus.RUNNING, ActivityStatus.CLOSED):
        if target not in allowed:
            continue
        label, css = STATUS_BUTTONS[target]
        if target == ActivityStatus.RECRUITING and activity.status == ActivityStatus.RUNNING:
            label, css = RESUME_LABEL, "outline-danger"
        actions.append({"status": target.value, "label": label, "css": css})
    return actions


def _detail_context(
    request: HttpRequest,
    activity: Activity,
    *,
    shift_form: ShiftForm | None = None,
    beneficiary_form: BeneficiaryForm | None = None,
) -> dict[str, Any]:
    scope = request_scope(request)
    can_manage = scope.can(Perm.ACTIVITY_MANAGE, activity.org)
    shifts = Paginator(selectors.shifts_of(activity=activity), SHIFTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    allowed = services.TRANSITIONS.get(activity.status, frozenset())
    return {
        "activity": activity,
        "served_groups": list(activity.served_groups.all()),
        "skills": list(activity.required_skills.all()),
        "qualifications": list(activity.required_qualifications.all()),
        "shifts": shifts,
        "can_manage": can_manage,
        "editable": activity.status not in (ActivityStatus.CLOSED, ActivityStatus.CANCELLED),
        "status_actions": _status_actions(activity) if can_manage else [],
        "can_cancel": can_manage and ActivityStatus.CANCELLED in allowed,
        "shift_form": shift_form or ShiftForm(),
        "beneficiary_form": beneficiary_form
        or BeneficiaryForm(initial={"count": activity.beneficiary_count}),
        "weekdays": _weekday_labels(activity.recur_weekdays),
    }


def _weekday_labels(mask: int) -> str:
    return "、".join(str(label) for day, label in WEEKDAYS if mask >> day & 1)


@require_safe
@login_required
def manage_detail(request: HttpRequest, activity_id: int) -> HttpResponse:
    activity = selectors.activity_get_managed(scope=request_scope(request), activity_id=activity_id)
    return render(request, "activities/manage/detail.html", _detail_context(request, activity))


@require_POST
@login_required
def set_status(request: HttpRequest, activity_id: int) -> HttpResponse:
    scope = request_scope(request)
    activity = selectors.activity_get_managed(scope=scope, activity_id=activity_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择要变更的状态。"))
        return redirect("activities:manage_detail", activity_id=activity.pk)
    with refusal_shown(request):
        services.activity_set_status(
            actor=request.user,
            scope=scope,
            activity=activity,
            status=form.cleaned_data["status"],
            reason=form.cleaned_data["reason"],
        )
        messages.success(
            request,
            _("活动“%(title)s”已变更为“%(status)s”。")
            % {"title": activity.title, "status": activity.get_status_display()},
        )
    return redirect("activities:manage_detail", activity_id=activity.pk)


@require_POST
@login_required
def beneficiaries(request: HttpRequest, activity_id: int) -> HttpResponse:
    scope = request_scope(request)
    activity = selectors.activity_get_managed(scope=scope, activity_id=activity_id)
    form = BeneficiaryForm(request.POST)
    if form.is_valid():
        with refusal_on_form(form):
            services.activity_record_beneficiaries(
                actor=request.user, scope=scope, activity=activity, count=form.cleaned_data["count"]
            )
            messages.success(
                request,
                _("已登记服务对象 %(n)d 人次。") % {"n": activity.beneficiary_count},
            )
            return redirect("activities:manage_detail", activity_id=activity.pk)
    context = _detail_context(request, activity, beneficiary_form=form)
    return render(request, "activities/manage/detail.html", context, status=INVALID)


@require_POST
@login_required
def shift_add(request: HttpRequest, activity_id: int) -> HttpResponse:
    scope = request_scope(request)
    activity = selectors.activity_get_managed(scope=scope, activity_id=activity_id)
    form = ShiftForm(request.POST)
    if form.is_valid():
        with refusal_on_form(form):
            shift = services.shift_add(
                actor=request.user, scope=scope, activity=activity, data=form.shift_input()
            )
            messages.success(
                request,
                _("已添加班次 %(time)s，名额 %(n)d。")
                % {
                    "time": timezone.localtime(shift.starts_at).strftime("%Y-%m-%d %H:%M"),
                    "n": shift.capacity,
                },
            )
            return redirect("activities:manage_detail", activity_id=activity.pk)
    context = _detail_context(request, activity, shift_form=form)
    return render(request, "activities/manage/detail.html", context, status=INVALID)


# --- the shift board ----------------------------------------------------------------------


def _windows(shift: Shift, now: dt.datetime) -> dict[str, Any]:
    opens = shift.starts_at - dt.timedelta(minutes=shift.checkin_opens_minutes)
    closes = shift.ends_at + dt.timedelta(minutes=shift.checkout_closes_minutes)
    return {
        "checkin_opens": opens,
        "checkout_closes": closes,
        "checkin_open": opens <= now <= shift.ends_at and not shift.is_cancelled,
        "checkout_closed": now > closes,
    }


def _board_rows_context(request: HttpRequest, shift: Shift) -> dict[str, Any]:
    scope = request_scope(request)
    now = timezone.now()
    return {
        **_windows(shift, now),
        "shift_over": now > shift.ends_at,
        "shift": shift,
        "counts": selectors.shift_counts(shift=shift),
        "rows": selectors.shift_board(shift=shift),
        "can_manage": scope.can(Perm.ACTIVITY_MANAGE, shift.activity.org),
        "updated_at": timezone.now(),
        "poll_seconds": BOARD_POLL_SECONDS,
    }


@require_safe
@login_required
def board(request: HttpRequest, shift_id: int) -> HttpResponse:
    shift = selectors.shift_get_managed(scope=request_scope(request), shift_id=shift_id)
    context = {
        **_board_rows_context(request, shift),
        **_windows(shift, timezone.now()),
        "activity": shift.activity,
        "signup_form": OrganiserSignupForm(),
    }
    return render(request, "activities/manage/board.html", context)


@require_safe
@login_required
@never_cache
def board_rows(request: HttpRequest, shift_id: int) -> HttpResponse:
    """HTMX: the counts and the people of the board (polled)."""
    shift = selectors.shift_get_managed(scope=request_scope(request), shift_id=shift_id)
    return render(
        request, "activities/manage/_board_rows.html", _board_rows_context(request, shift)
    )


def to_board(signup_or_shift: Signup | Shift) -> HttpResponse:
    shift_id = (
        signup_or_shift.shift_id if isinstance(signup_or_shift, Signup) else signup_or_shift.pk
    )
    return redirect("activities:board", shift_id=shift_id)


@require_POST
@login_required
def signup_decide(request: HttpRequest, signup_id: int) -> HttpResponse:
    scope = request_scope(request)
    signup = selectors.signup_get_managed(scope=scope, signup_id=signup_id)
    form = DecideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择通过或不通过。"))
        return to_board(signup)
    with refusal_shown(request):
        decided = services.signup_decide(
            actor=request.user,
            scope=scope,
            signup=signup,
            approve=form.cleaned_data["decision"] == "approve",
            reason=form.cleaned_data["reason"],
        )
        messages.success(
            request,
            _("%(name)s 的报名：%(status)s。")
            % {"name": _name(signup), "status": decided.get_status_display()},
        )
    return to_board(signup)


@require_POST
@login_required
def organiser_check(request: HttpRequest, signup_id: int) -> HttpResponse:
    """代签到 / 代签退 for someone without a phone."""
    scope = request_scope(request)
    signup = selectors.signup_get_managed(scope=scope, signup_id=signup_id)
    form = CheckForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择签到或签退。"))
        return to_board(signup)
    checking_in = form.cleaned_data["direction"] == "in"
    action = services.check_in if checking_in else services.check_out
    with refusal_shown(request):
        done = action(
            actor=request.user,
            volunteer_id=signup.volunteer_id,
            shift_id=signup.shift_id,
            credential=services.Credential(method=CheckMethod.ORGANISER),
            scope=scope,
        )
        at = done.checked_in_at if checking_in else done.checked_out_at
        text = (
            _("已为 %(name)s 代签到（%(time)s）。")
            if checking_in
            else _("已为 %(name)s 代签退（%(time)s）。")
        )
        messages.success(
            request,
            text % {"name": _name(signup), "time": timezone.localtime(at).strftime("%H:%M")},
        )
    return to_board(signup)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def attendance_correct(request: HttpRequest, signup_id: int) -> HttpResponse:
    scope = request_scope(request)
    signup = selectors.signup_get_managed(scope=scope, signup_id=signup_id)
    require_manage(scope, signup.shift.activity)
    initial = {"checked_in_at": signup.checked_in_at, "checked_out_at": signup.checked_out_at}
    form = AttendanceCorrectForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            services.attendance_correct(
                actor=request.user,
                scope=scope,
                signup=signup,
                checked_in_at=form.cleaned_data["checked_in_at"],
                checked_out_at=form.cleaned_data["checked_out_at"],
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, _("已更正 %(name)s 的签到时间。") % {"name": _name(signup)})
            return to_board(signup)
    context = {
        "signup": signup,
        "shift": signup.shift,
        "form": form,
        "corrections": list(signup.corrections.select_related("actor")),
    }
    return render_form(request, "activities/manage/attendance_correct.html", context, form)


@require_POST
@login_required
def signup_remove(request: HttpRequest, signup_id: int) -> HttpResponse:
    scope = request_scope(request)
    signup = selectors.signup_get_managed(scope=scope, signup_id=signup_id)
    with refusal_shown(request):
        services.signup_withdraw(
            actor=request.user, signup=signup, scope=scope, reason=posted_reason(request)
        )
        messages.success(request, _("已将 %(name)s 移出该班次。") % {"name": _name(signup)})
    return to_board(signup)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def organiser_signup(request: HttpRequest, shift_id: int) -> HttpResponse:
    """Add a volunteer to the shift: an exact volunteer number signs them up at once; a name,
    ID or phone number shows the matches to choose from. The text is POSTed, never put in a
    URL."""
    scope = request_scope(request)
    shift = selectors.shift_get_managed(scope=scope, shift_id=shift_id)
    require_manage(scope, shift.activity)
    form = OrganiserSignupForm(request.POST or None)
    candidates: list = []
    if request.method == "POST" and form.is_valid():
        volunteer, candidates = _chosen_volunteer(scope, form)
        if volunteer is not None:
            with refusal_on_form(form):
                signup = services.signup_create(
                    actor=request.user, volunteer=volunteer, shift_id=shift.pk, scope=scope
                )
                messages.success(
                    request,
                    _("已为 %(name)s（%(number)s）报名：%(status)s。")
                    % {
                        "name": volunteer.person.name,
                        "number": volunteer.number,
                        "status": signup.get_status_display(),
                    },
                )
                return to_board(shift)
    forget_full_number(form, "q")
    context = {"shift": shift, "form": form, "candidates": candidates}
    return render_form(request, "activities/manage/organiser_signup.html", context, form)


def _chosen_volunteer(scope: Scope, form: OrganiserSignupForm) -> tuple[Any, list]:
    """The volunteer to sign up (or None) and the matches to choose from."""
    volunteer_id = form.cleaned_data.get("volunteer_id")
    if volunteer_id:
        volunteer = volunteer_for_signup(scope=scope, volunteer_id=volunteer_id)
        if volunteer is None:
            form.add_error("q", _("未找到该志愿者。"))
        return volunteer, []
    text = form.cleaned_data["q"]
    try:
        candidates = volunteer_candidates(scope=scope, text=text)
    except ValidationError as exc:
        form.add_error("q", exc.messages)
        return None, []
    if not candidates:
        form.add_error("q", _("在您的管理范围内未找到匹配的志愿者。"))
        return None, []
    exact = [v for v in candidates if v.number == text.strip().upper()]
    if len(exact) == 1:
        return exact[0], []
    return None, candidates


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def shift_edit(request: HttpRequest, shift_id: int) -> HttpResponse:
    scope = request_scope(request)
    shift = selectors.shift_get_managed(scope=scope, shift_id=shift_id)
    require_manage(scope, shift.activity)
    form = ShiftForm(request.POST or None, shift=shift)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            services.shift_update(
                actor=request.user, scope=scope, shift=shift, data=form.shift_input()
            )
            messages.success(request, _("已保存班次。"))
            return to_board(shift)
    context = {"shift": shift, "activity": shift.activity, "form": form}
    return render_form(request, "activities/manage/shift_form.html", context, form)


@require_POST
@login_required
def shift_cancel(request: HttpRequest, shift_id: int) -> HttpResponse:
    scope = request_scope(request)
    shift = selectors.shift_get_managed(scope=scope, shift_id=shift_id)
    with refusal_shown(request):
        services.shift_cancel(
            actor=request.user, scope=scope, shift=shift, reason=posted_reason(request)
        )
        messages.success(request, _("已取消该班次，报名的志愿者会收到通知。"))
    return to_board(shift)


@require_POST
@login_required
def shift_no_shows(request: HttpRequest, shift_id: int) -> HttpResponse:
    """缺席: confirmed people who never checked in, once the check-out window is over."""
    scope = request_scope(request)
    shift = selectors.shift_get_managed(scope=scope, shift_id=shift_id)
    now = timezone.now()
    windows = _windows(shift, now)
    if not scope.can(Perm.ACTIVITY_MANAGE, shift.activity.org):
        messages.error(request, _("没有在该组织发布和管理活动的权限。"))
    elif not windows["checkout_closed"]:
        messages.error(
            request,
            _("签退截止（%(time)s）后才能标记缺席。")
            % {"time": timezone.localtime(windows["checkout_closes"]).strftime("%m-%d %H:%M")},
        )
    else:
        marked = services.shift_mark_no_shows(actor=request.user, shift=shift, now=now)
        messages.success(request, _("已将 %(n)d 人标记为缺席。") % {"n": marked})
    return to_board(shift)


# --- the QR screen ------------------------------------------------------------------------


def qr_url(request: HttpRequest, shift: Shift, now: dt.datetime) -> tuple[str, str]:
    """The scan address for this moment's token, and the token."""
    token = checkin.qr_token(secret=shift.qr_secret, shift_id=shift.pk, at=now)
    url = request.build_absolute_uri(reverse("activities:scan")) + f"?s={shift.pk}&t={token}"
    return url, token


def _qr_context(request: HttpRequest, shift: Shift) -> dict[str, Any]:
    now = timezone.now()
    url, token = qr_url(request, shift, now)
    svg = segno.make(url, error="m").svg_inline(scale=1, omitsize=True, svgclass="hz-qr-svg")
    return {
        "shift": shift,
        "activity": shift.activity,
        "url": url,
        "token": token,
        "svg": mark_safe(svg),  # generated by segno from our own URL
        "seconds_left": checkin.seconds_to_next_window(now),
        "poll_seconds": QR_POLL_SECONDS,
        **_windows(shift, now),
    }


@require_safe
@login_required
@never_cache
def qr(request: HttpRequest, shift_id: int) -> HttpResponse:
    """Full screen for a tablet or projector: the rotating QR code and the shift code."""
    shift = selectors.shift_get_managed(
        scope=request_scope(request), shift_id=shift_id, perm=Perm.ACTIVITY_MANAGE
    )
    response = render(request, "activities/manage/qr.html", _qr_context(request, shift))
    response["Cache-Control"] = "no-store"
    return response


@require_safe
@login_required
@never_cache
def qr_code(request: HttpRequest, shift_id: int) -> HttpResponse:
    """HTMX: the current QR code (polled every few seconds)."""
    shift = selectors.shift_get_managed(
        scope=request_scope(request), shift_id=shift_id, perm=Perm.ACTIVITY_MANAGE
    )
    response = render(request, "activities/manage/_qr_code.html", _qr_context(request, shift))
    response["Cache-Control"] = "no-store"
    return response
