"""The organiser's service-record and certificate pages: records from a shift's attendance
(生成 / 整班确认), 时长确认 (batch confirmation), entering a record, a record with its
corrections (退回, 更正, 评价), and certificates (受理 → 开具, 不予开具, 撤销).

Same rules as ``activities.manage_views``: out of scope is missing (404); a service's
refusal is shown and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.activities import record_services, selectors
from huzhu.activities.manage_forms import (
    CertificateFilterForm,
    ReasonForm,
    RecordCorrectForm,
    RecordEnterForm,
    RecordEvaluateForm,
    RecordFilterForm,
    RecordsConfirmForm,
    ServiceForm,
    forget_full_number,
)
from huzhu.activities.manage_selectors import certificate_records
from huzhu.activities.manage_views import (
    INVALID,
    posted_reason,
    refusal_on_form,
    refusal_shown,
    refuse,
    render_form,
    request_scope,
    require_perm,
    to_board,
)
from huzhu.activities.models import (
    Certificate,
    CertificateStatus,
    RecordCorrection,
    RecordStatus,
    ServiceRecord,
)
from huzhu.orgs.roles import Perm
from huzhu.volunteers.archive_selectors import format_hours
from huzhu.volunteers.selectors import volunteer_lookup_number

PAGE_SIZE = 50
TABS = ("pending", "all")


# --- records from a shift's attendance ----------------------------------------------------


def _skipped_text(result: record_services.ShiftRecordsResult) -> str:
    return "；".join(f"{name}（{why}）" for name, why in result.skipped)


def _report_skipped(request: HttpRequest, result: record_services.ShiftRecordsResult) -> None:
    if result.skipped:
        messages.warning(request, _("未生成记录：%(list)s") % {"list": _skipped_text(result)})


@require_POST
@login_required
def shift_records(request: HttpRequest, shift_id: int) -> HttpResponse:
    """生成服务记录（待确认）from the shift's attendance."""
    scope = request_scope(request)
    shift = selectors.shift_get_managed(scope=scope, shift_id=shift_id)
    with refusal_shown(request):
        result = record_services.shift_records_create(actor=request.user, scope=scope, shift=shift)
        messages.success(request, _("已生成 %(n)d 条待确认的服务记录。") % {"n": result.created})
        _report_skipped(request, result)
    return to_board(shift)


@require_POST
@login_required
def shift_confirm(request: HttpRequest, shift_id: int) -> HttpResponse:
    """整班确认时长: one transaction; a 24-hour overflow refuses the whole shift, line by line."""
    scope = request_scope(request)
    shift = selectors.shift_get_managed(scope=scope, shift_id=shift_id)
    try:
        result = record_services.shift_confirm(actor=request.user, scope=scope, shift=shift)
    except ValidationError as exc:
        messages.error(request, _("未确认任何记录："))
        for line in exc.messages:
            messages.error(request, line)
    except PermissionDenied as exc:
        refuse(request, exc)
    else:
        messages.success(
            request,
            _("已确认 %(confirmed)d 条服务记录（其中新生成 %(created)d 条）。")
            % {"confirmed": result.confirmed, "created": result.created},
        )
        _report_skipped(request, result)
    return to_board(shift)


# --- 时长确认 ------------------------------------------------------------------------------


@require_safe
@login_required
def records(request: HttpRequest) -> HttpResponse:
    """Two tabs: records waiting for confirmation (batch confirm) and all records."""
    scope = request_scope(request)
    require_perm(scope, Perm.ACTIVITY_MANAGE)
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "pending"
    form = RecordFilterForm(request.GET or None)
    status = form.cleaned_data.get("status", "") if form.is_valid() else ""
    if tab == "pending":
        rows = selectors.records_pending(scope=scope)
    else:
        rows = selectors.record_list(scope=scope, status=status)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "tab": tab,
        "form": form,
        "page": page,
        "pending_count": page.paginator.count if tab == "pending" else None,
    }
    return render(request, "activities/manage/records.html", context)


@require_POST
@login_required
def records_confirm(request: HttpRequest) -> HttpResponse:
    scope = request_scope(request)
    require_perm(scope, Perm.ACTIVITY_MANAGE)
    form = RecordsConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(form.errors.get("record_ids", [])))
    else:
        with refusal_shown(request):
            count = record_services.records_confirm(
                actor=request.user, scope=scope, record_ids=form.cleaned_data["record_ids"]
            )
            messages.success(request, _("已确认 %(n)d 条服务记录。") % {"n": count})
    return redirect(f"{reverse('activities:records')}?tab=pending")


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def record_enter(request: HttpRequest) -> HttpResponse:
    """组织录入: a record for a volunteer found by number, confirmed at once if asked."""
    scope = request_scope(request)
    require_perm(scope, Perm.ACTIVITY_MANAGE)
    form = RecordEnterForm(request.POST or None, scope=scope)
    if request.method == "POST" and form.is_valid():
        volunteer = _volunteer_by_number(scope, form)
        if volunteer is not None:
            with refusal_on_form(form):
                record = record_services.record_enter(
                    actor=request.user,
                    scope=scope,
                    volunteer=volunteer,
                    org=form.cleaned_data["org"],
                    data=form.record_input(),
                    confirm=form.cleaned_data["confirm"],
                )
                messages.success(
                    request,
                    _("已为 %(name)s 录入服务记录 %(hours)s 小时（%(status)s）。")
                    % {
                        "name": volunteer.person.name,
                        "hours": record.hours,
                        "status": record.get_status_display(),
                    },
                )
                return redirect("activities:record_detail", record_id=record.pk)
    forget_full_number(form, "number")
    return render_form(request, "activities/manage/record_enter.html", {"form": form}, form)


def _volunteer_by_number(scope: Any, form: RecordEnterForm) -> Any:
    try:
        found = volunteer_lookup_number(scope=scope, number=form.cleaned_data["number"])
    except ValidationError:
        found = []
    if len(found) == 1:
        return found[0]
    if not found:
        form.add_error("number", _("在您的管理范围内未找到该志愿者，请核对志愿者编号或号码。"))
    else:
        form.add_error("number", _("该号码对应多名志愿者，请改用志愿者编号。"))
    return None


# --- one record ---------------------------------------------------------------------------


def _record_context(request: HttpRequest, record: ServiceRecord, **forms: Any) -> dict[str, Any]:
    scope = request_scope(request)
    return {
        "record": record,
        "corrections": _corrections(record),
        "can_manage": scope.can(Perm.ACTIVITY_MANAGE, record.org),
        "reject_form": forms.get("reject_form") or ReasonForm(),
        "revoke_form": forms.get("revoke_form") or ReasonForm(),
        "correct_form": forms.get("correct_form") or RecordCorrectForm(record=record),
        "evaluate_form": forms.get("evaluate_form")
        or RecordEvaluateForm(initial={"rating": record.rating, "evaluation": record.evaluation}),
        "is_pending": record.status == RecordStatus.PENDING,
        "is_confirmed": record.status == RecordStatus.CONFIRMED,
    }


def _corrections(record: ServiceRecord) -> list[RecordCorrection]:
    """The record's corrections, each with ``changes``: (field label, old value) for what
    changed besides the minutes."""
    corrections = list(record.corrections.select_related("actor"))
    for correction in corrections:
        correction.changes = [  # type: ignore[attr-defined]
            (ServiceRecord._meta.get_field(name).verbose_name, value)
            for name, value in correction.old_values.items()
            if name != "minutes"
        ]
    return corrections


def _record(request: HttpRequest, record_id: int) -> ServiceRecord:
    return selectors.record_get_managed(scope=request_scope(request), record_id=record_id)


@require_safe
@login_required
def record_detail(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _record(request, record_id)
    return render(request, "activities/manage/record_detail.html", _record_context(request, record))


def _record_change(
    request: HttpRequest,
    record: ServiceRecord,
    form: ServiceForm,
    form_name: str,
    change: Callable[..., Any],
    values: Callable[[], dict[str, Any]],
    done: str,
) -> HttpResponse:
    """A form posted from the record page: ``change(…, **values())`` once the form is valid,
    then back to the record; an invalid form or a refusal shows the page again (400) with
    the form (``form_name`` in the page) and its errors."""
    if form.is_valid():
        with refusal_on_form(form):
            change(actor=request.user, scope=request_scope(request), record=record, **values())
            messages.success(request, done)
            return redirect("activities:record_detail", record_id=record.pk)
    record.refresh_from_db()
    context = _record_context(request, record, **{form_name: form})
    return render(request, "activities/manage/record_detail.html", context, status=INVALID)


@require_POST
@login_required
def record_reject(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _record(request, record_id)
    form = ReasonForm(request.POST)
    return _record_change(
        request,
        record,
        form,
        "reject_form",
        record_services.record_reject,
        lambda: {"reason": form.cleaned_data["reason"]},
        _("已退回该服务记录。"),
    )


@require_POST
@login_required
def record_revoke(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _record(request, record_id)
    form = ReasonForm(request.POST)
    return _record_change(
        request,
        record,
        form,
        "revoke_form",
        record_services.record_revoke,
        lambda: {"reason": form.cleaned_data["reason"]},
        _("已撤销该服务记录，时长和时间币已冲回。"),
    )


@require_POST
@login_required
def record_correct(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _record(request, record_id)
    form = RecordCorrectForm(request.POST, record=record)
    return _record_change(
        request,
        record,
        form,
        "correct_form",
        record_services.record_correct,
        lambda: {"reason": form.cleaned_data["reason"], **form.changes()},
        _("已更正该服务记录，原记录已保留。"),
    )


@require_POST
@login_required
def record_evaluate(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _record(request, record_id)
    form = RecordEvaluateForm(request.POST)
    return _record_change(
        request,
        record,
        form,
        "evaluate_form",
        record_services.record_evaluate,
        lambda: {
            "rating": form.cleaned_data["rating"],
            "evaluation": form.cleaned_data["evaluation"],
        },
        _("已保存服务评价。"),
    )


# --- certificates ---------------------------------------------------------------------------


@require_safe
@login_required
def certificates(request: HttpRequest) -> HttpResponse:
    """Applications waiting to be issued (for those who certify) and every certificate in
    the scope, by status."""
    scope = request_scope(request)
    can_certify = scope.can(Perm.RECORD_CERTIFY)
    if not (can_certify or scope.can(Perm.ACTIVITY_MANAGE)):
        raise PermissionDenied(_("您没有访问该页面的权限"))
    form = CertificateFilterForm(request.GET or None)
    status = form.cleaned_data.get("status", "") if form.is_valid() else ""
    todo = None
    if can_certify:
        todo = Paginator(selectors.certificates_to_issue(scope=scope), PAGE_SIZE).get_page(
            request.GET.get("todo_page")
        )
    page = Paginator(selectors.certificate_list(scope=scope, status=status), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"form": form, "todo": todo, "page": page, "can_certify": can_certify}
    return render(request, "activities/manage/certificates.html", context)


def _certificate(request: HttpRequest, certificate_id: int) -> Certificate:
    return selectors.certificate_get_managed(
        scope=request_scope(request), certificate_id=certificate_id
    )


@require_safe
@login_required
def certificate_detail(request: HttpRequest, certificate_id: int) -> HttpResponse:
    certificate = _certificate(request, certificate_id)
    applied = certificate.status == CertificateStatus.APPLIED
    covered: list[dict[str, Any]] = []
    if applied:
        covered = [
            {
                "date": r.served_on.isoformat(),
                "content": r.content,
                "place": r.place,
                "category": r.category.name,
                "hours": r.hours,
                "minutes": r.minutes,
            }
            for r in certificate_records(certificate=certificate)
        ]
    context = {
        "certificate": certificate,
        "applied": applied,
        "covered": covered if applied else certificate.snapshot.get("records", []),
        "covered_hours": format_hours(sum(row["minutes"] for row in covered)),
        "can_certify": request_scope(request).can(Perm.RECORD_CERTIFY, certificate.org),
        "issued": certificate.status == CertificateStatus.ISSUED,
        "has_pdf": certificate.status in (CertificateStatus.ISSUED, CertificateStatus.REVOKED),
    }
    return render(request, "activities/manage/certificate_detail.html", context)


def _certificate_action(
    request: HttpRequest, certificate_id: int, action: Any, done: str, with_reason: bool
) -> HttpResponse:
    certificate = _certificate(request, certificate_id)
    extra = {"reason": posted_reason(request)} if with_reason else {}
    with refusal_shown(request):
        action(actor=request.user, scope=request_scope(request), certificate=certificate, **extra)
        messages.success(request, done)
    return redirect("activities:certificate_detail", certificate_id=certificate.pk)


@require_POST
@login_required
def certificate_issue(request: HttpRequest, certificate_id: int) -> HttpResponse:
    return _certificate_action(
        request,
        certificate_id,
        record_services.certificate_issue,
        _("已开具志愿服务证明，志愿者会收到通知。"),
        with_reason=False,
    )


@require_POST
@login_required
def certificate_reject(request: HttpRequest, certificate_id: int) -> HttpResponse:
    return _certificate_action(
        request,
        certificate_id,
        record_services.certificate_reject,
        _("已决定不予开具，志愿者会收到通知。"),
        with_reason=True,
    )


@require_POST
@login_required
def certificate_revoke(request: HttpRequest, certificate_id: int) -> HttpResponse:
    return _certificate_action(
        request,
        certificate_id,
        record_services.certificate_revoke,
        _("已撤销该证明，核验页面将显示已撤销。"),
        with_reason=True,
    )
