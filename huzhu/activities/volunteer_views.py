"""The volunteer's activity pages (phones first, large type, few steps): browse and sign up,
my shifts, check-in by QR code or by the six-digit code, my hours and declarations, my
certificates; plus the two public routes, certificate verification and the calendar feed.

Views parse input, call one selector or service, and render. A signed-in user without a
volunteer registration sees a friendly page (GET) or a 404 (POST and object routes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.activities import record_services, selectors, services
from huzhu.activities.certificate_pdf import render_certificate_pdf
from huzhu.activities.forms import (
    ACTION_IN,
    BrowseFilterForm,
    CertificateApplyForm,
    CodeCheckinForm,
    DeclareForm,
    ScanForm,
    SignupForm,
    VerifyForm,
    WithdrawForm,
)
from huzhu.activities.ical import (
    feed_key_reset,
    feed_token,
    shifts_calendar,
    volunteer_from_feed_token,
)
from huzhu.activities.models import (
    ACTIVE_SIGNUP,
    Certificate,
    CertificateStatus,
    CheckMethod,
    Recruitment,
    Shift,
    Signup,
    SignupStatus,
)
from huzhu.activities.services import Credential
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers.models import Volunteer, VolunteerStatus

PAGE_SIZE = 20
GET_OR_POST = ["GET", "HEAD", "POST"]


# --- helpers -----------------------------------------------------------------------------


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def _volunteer(request: HttpRequest) -> Volunteer | None:
    """The signed-in person's volunteer registration (any status), once per request."""
    if not hasattr(request, "_hz_volunteer"):
        request._hz_volunteer = selectors.volunteer_of(_scope(request))  # type: ignore[attr-defined]
    return request._hz_volunteer  # type: ignore[attr-defined]


def _volunteer_or_404(request: HttpRequest, registered: bool = False) -> Volunteer:
    volunteer = _volunteer(request)
    if volunteer is None or (registered and volunteer.status != VolunteerStatus.REGISTERED):
        raise Http404
    return volunteer


def _not_volunteer(request: HttpRequest) -> HttpResponse:
    """Not (yet) a registered volunteer: say so kindly and show the way to register."""
    scope = _scope(request)
    return render(
        request,
        "activities/me/not_volunteer.html",
        {"volunteer": _volunteer(request), "can_manage": scope.can(Perm.ACTIVITY_MANAGE)},
    )


def volunteer_page(
    registered: bool = False,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A page of the signed-in volunteer, who is passed to the view after the request.
    Without a volunteer registration (with ``registered``: an approved one) a GET shows the
    not-a-volunteer page and a POST is a 404."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                volunteer = _volunteer_or_404(request, registered)
            except Http404:
                if request.method == "POST":
                    raise
                return _not_volunteer(request)
            return view(request, volunteer, *args, **kwargs)

        return page

    return decorate


def _error_text(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(str(m) for m in exc.messages)
    return str(exc) or _("没有权限进行该操作。")


def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _when(shift: Shift) -> str:
    start = timezone.localtime(shift.starts_at)
    end = timezone.localtime(shift.ends_at)
    return f"{start:%m-%d %H:%M}–{end:%H:%M}"


def _hm(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _geo_uri(latitude: Any, longitude: Any, address: str) -> str:
    """A ``geo:`` URI (RFC 5870) that phones open in the map app the user already has."""
    return f"geo:{latitude},{longitude}?q={latitude},{longitude}({quote(address)})"


def _visible_shift(volunteer: Volunteer, shift_id: int) -> Shift:
    """A shift of an activity the volunteer may see (open to them or signed up for)."""
    shift = get_object_or_404(Shift.objects.select_related("activity"), pk=shift_id)
    selectors.activity_get_for_volunteer(volunteer=volunteer, activity_id=shift.activity_id)
    return shift


def _signup_on(volunteer: Volunteer, shift_id: int | None) -> Signup | None:
    """The volunteer's own sign-up on a shift, if any."""
    if shift_id is None:
        return None
    return (
        Signup.objects.filter(volunteer=volunteer, shift_id=shift_id)
        .select_related("shift__activity")
        .first()
    )


def _attendance_state(signup: Signup | None) -> str:
    """What the check-in pages offer: not signed up, not confirmed, 签到, 签退 or done."""
    if signup is None:
        return "none"
    if signup.status != SignupStatus.CONFIRMED or signup.shift.is_cancelled:
        return "blocked"
    if signup.checked_in_at is None:
        return "in"
    if signup.checked_out_at is None:
        return "out"
    return "done"


def _attend(request: HttpRequest, signup: Signup, credential: Credential, action: str) -> str:
    """Call check-in or check-out for the volunteer's own sign-up; returns the success
    message (the service's ValidationError passes through unchanged)."""
    call = services.check_in if action == ACTION_IN else services.check_out
    done = call(
        actor=request.user,
        volunteer_id=signup.volunteer_id,
        shift_id=signup.shift_id,
        credential=credential,
    )
    if action == ACTION_IN:
        return _("签到成功 %(time)s") % {"time": _hm(done.checked_in_at)}
    return _("签退成功 %(time)s") % {"time": _hm(done.checked_out_at)}


# --- browse, detail, sign-up -----------------------------------------------------------------


@require_safe
@login_required
@volunteer_page(registered=True)
def browse(request: HttpRequest, volunteer: Volunteer) -> HttpResponse:
    """Open activities for the volunteer, with search and category filters."""
    scope = _scope(request)
    form = BrowseFilterForm(request.GET or None)
    activities = selectors.activities_open(volunteer=volunteer, **form.filters())
    page = Paginator(activities, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "activities/me/browse.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "can_manage": scope.can(Perm.ACTIVITY_MANAGE),
        },
    )


def _decorate_shifts(shifts: list[Shift], withdraw_hours: int) -> None:
    """What each shift's row shows: the withdraw deadline and which button applies."""
    now = timezone.now()
    for shift in shifts:
        mine: Signup | None = shift.my_signup  # type: ignore[attr-defined]
        deadline = shift.starts_at - dt.timedelta(hours=withdraw_hours)
        active = mine is not None and mine.status in ACTIVE_SIGNUP
        not_started = mine is not None and mine.checked_in_at is None
        shift.withdraw_until = deadline  # type: ignore[attr-defined]
        shift.is_mine = active  # type: ignore[attr-defined]
        shift.can_withdraw = active and not_started and now <= deadline  # type: ignore[attr-defined]
        shift.can_sign_up = not active and shift.starts_at > now  # type: ignore[attr-defined]


@require_safe
@login_required
def activity_detail(request: HttpRequest, activity_id: int) -> HttpResponse:
    scope = _scope(request)
    activity = selectors.activity_get_visible(scope=scope, activity_id=activity_id)
    volunteer = _volunteer(request)
    shifts = selectors.shifts_for_volunteer(activity=activity, volunteer=volunteer)
    _decorate_shifts(shifts, activity.withdraw_hours_before)
    can_manage = scope.can(Perm.ACTIVITY_MANAGE, activity.org)
    # The contact's number in full once the volunteer has signed up (or to organisers).
    show_contact = can_manage or any(shift.is_mine for shift in shifts)  # type: ignore[attr-defined]
    has_place = activity.latitude is not None and activity.longitude is not None
    return render(
        request,
        "activities/me/detail.html",
        {
            "activity": activity,
            "shifts": shifts,
            "volunteer": volunteer,
            "can_sign_up": volunteer is not None and volunteer.status == VolunteerStatus.REGISTERED,
            "needs_code": activity.recruitment == Recruitment.CODE,
            "served_groups": list(activity.served_groups.all()),
            "skills": list(activity.required_skills.all()),
            "qualifications": list(activity.required_qualifications.all()),
            "contact_phone": (
                activity.contact_phone if show_contact else activity.contact_phone_masked
            ),
            "contact_full": show_contact,
            "geo_uri": (
                _geo_uri(activity.latitude, activity.longitude, activity.address)
                if has_place
                else ""
            ),
            "can_manage": can_manage,
        },
    )


def _signup_message(signup: Signup) -> tuple[int, str]:
    shift = signup.shift
    names = {"title": shift.activity.title, "when": _when(shift)}
    if signup.status == SignupStatus.CONFIRMED:
        text = _("已报名：%(title)s %(when)s。请按时到达，现场扫码签到。") % names
        return messages.SUCCESS, text
    if signup.status == SignupStatus.PENDING:
        text = _("报名已提交，待审核：%(title)s %(when)s。审核结果会通知您。") % names
        return messages.INFO, text
    text = (
        _("名额已满，您已进入候补：%(title)s %(when)s。有人取消时按报名先后递补，并通知您。")
        % names
    )
    return messages.WARNING, text


@require_POST
@login_required
@never_cache
def signup(request: HttpRequest, shift_id: int) -> HttpResponse:
    volunteer = _volunteer_or_404(request)
    shift = _visible_shift(volunteer, shift_id)
    form = SignupForm(request.POST)
    target = reverse("activities:detail", args=[shift.activity_id]) + f"#shift-{shift.pk}"
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect(target)
    try:
        created = services.signup_create(
            actor=request.user,
            volunteer=volunteer,
            shift_id=shift.pk,
            invite_code=form.cleaned_data["invite_code"],
            note=form.cleaned_data["note"],
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        level, text = _signup_message(created)
        messages.add_message(request, level, text)
    return redirect(target)


@require_POST
@login_required
@never_cache
def withdraw(request: HttpRequest, signup_id: int) -> HttpResponse:
    volunteer = _volunteer_or_404(request)
    mine = selectors.my_signup_get(volunteer=volunteer, signup_id=signup_id)
    form = WithdrawForm(request.POST)
    back_to_mine = form.is_valid() and form.cleaned_data["back"] == "mine"
    try:
        services.signup_withdraw(actor=request.user, signup=mine)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(
            request,
            _("已取消报名：%(title)s %(when)s")
            % {"title": mine.shift.activity.title, "when": _when(mine.shift)},
        )
    if back_to_mine:
        return redirect("activities:my_shifts")
    return redirect(
        reverse("activities:detail", args=[mine.shift.activity_id]) + f"#shift-{mine.shift_id}"
    )


# --- my shifts and the calendar feed -----------------------------------------------------------


def _feed_urls(volunteer: Volunteer) -> tuple[str, str]:
    """The calendar subscription address (https and webcal forms)."""
    path = reverse("activities:ical", kwargs={"feed_token": feed_token(volunteer)})
    url = settings.HUZHU_PUBLIC_URL + path
    return url, "webcal://" + url.split("://", 1)[-1]


@require_safe
@login_required
@volunteer_page()
def my_shifts(request: HttpRequest, volunteer: Volunteer) -> HttpResponse:
    today = timezone.localdate()
    upcoming = list(selectors.my_signups(volunteer=volunteer))
    for item in upcoming:
        started_on = timezone.localtime(item.shift.starts_at).date()
        item.is_today = started_on <= today  # type: ignore[attr-defined]
        item.state = _attendance_state(item)  # type: ignore[attr-defined]
    past = selectors.my_signups(volunteer=volunteer, upcoming=False).exclude(
        pk__in=[item.pk for item in upcoming]
    )
    page = Paginator(past, PAGE_SIZE).get_page(request.GET.get("page"))
    feed_url, webcal_url = _feed_urls(volunteer)
    return render(
        request,
        "activities/me/my_shifts.html",
        {
            "volunteer": volunteer,
            "upcoming": upcoming,
            "page": page,
            "feed_url": feed_url,
            "webcal_url": webcal_url,
        },
    )


@require_POST
@login_required
@never_cache
def ical_reset(request: HttpRequest) -> HttpResponse:
    """The signed-in volunteer gets a new feed address; the old one answers 404 from now on.
    There is no volunteer in the URL: nobody can reset another volunteer's address."""
    volunteer = _volunteer_or_404(request)
    try:
        feed_key_reset(actor=request.user, volunteer=volunteer)
    except PermissionDenied as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(
            request,
            _("日历订阅地址已重置，原地址已失效。请在手机日历中删除旧的订阅，再订阅下面的新地址。"),
        )
    return redirect(reverse("activities:my_shifts") + "#hz-calendar")


@require_safe
def ical_feed(request: HttpRequest, feed_token: str) -> HttpResponse:
    """PUBLIC by token: calendar apps cannot sign in. An unknown token is a 404."""
    volunteer = volunteer_from_feed_token(feed_token)
    if volunteer is None:
        raise Http404
    content = shifts_calendar(
        volunteer=volunteer,
        signups=selectors.ical_signups(volunteer=volunteer),
        base_url=settings.HUZHU_PUBLIC_URL,
    )
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(False, "huzhu-shifts.ics")
    response["Cache-Control"] = "private, max-age=300"
    return response


# --- check-in and check-out ----------------------------------------------------------------


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
@volunteer_page()
def scan(request: HttpRequest, volunteer: Volunteer) -> HttpResponse:
    """What the organiser's rotating QR code opens: ?s=<shift>&t=<token>. One big button,
    签到 or 签退; the POST carries the token and, when the phone gives it, the location."""
    data = request.POST if request.method == "POST" else request.GET
    shift_id = _int(data.get("s"))
    token = (data.get("t") or "").strip()[:64]
    signup_row = _signup_on(volunteer, shift_id)
    error = ""
    if request.method == "POST":
        form = ScanForm(request.POST)
        if signup_row is None:
            error = _("您没有报名成功该班次，不能签到。")
        elif not form.is_valid():
            error = _("二维码信息不完整，请重新扫描现场二维码。")
        else:
            credential = Credential(
                method=CheckMethod.QR,
                token=form.cleaned_data["t"],
                latitude=form.cleaned_data["lat"],
                longitude=form.cleaned_data["lng"],
            )
            try:
                text = _attend(request, signup_row, credential, form.cleaned_data["action"])
            except (ValidationError, PermissionDenied) as exc:
                error = _error_text(exc)
            else:
                messages.success(request, text)
                # Without the token: the page shows the result, not a second button.
                return redirect(reverse("activities:scan") + "?" + urlencode({"s": shift_id}))
    return render(
        request,
        "activities/me/scan.html",
        {
            "signup": signup_row,
            "shift": signup_row.shift if signup_row else None,
            "state": _attendance_state(signup_row),
            "shift_id": shift_id,
            "token": token,
            "error": error,
        },
    )


def _today_signups(volunteer: Volunteer) -> list[Signup]:
    """Confirmed sign-ups of shifts that started today or are still in their window."""
    today = timezone.localdate()
    rows = selectors.my_signups(volunteer=volunteer).filter(status=SignupStatus.CONFIRMED)
    found = []
    for row in rows:
        if timezone.localtime(row.shift.starts_at).date() <= today:
            row.state = _attendance_state(row)  # type: ignore[attr-defined]
            found.append(row)
    return found


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
@volunteer_page()
def checkin_code(request: HttpRequest, volunteer: Volunteer) -> HttpResponse:
    """签到码: for phones without a camera, the six digits the organiser shows."""
    rows = _today_signups(volunteer)
    failed: CodeCheckinForm | None = None
    if request.method == "POST":
        shift_id = _int(request.POST.get("shift"))
        form = CodeCheckinForm(request.POST, auto_id=f"id_%s_{shift_id}")
        row = next((r for r in rows if r.shift_id == shift_id), None)
        if row is None:
            raise Http404
        if form.is_valid():
            credential = Credential(
                method=CheckMethod.CODE,
                code=form.cleaned_data["code"],
                latitude=form.cleaned_data["lat"],
                longitude=form.cleaned_data["lng"],
            )
            try:
                text = _attend(request, row, credential, form.cleaned_data["action"])
            except (ValidationError, PermissionDenied) as exc:
                if isinstance(exc, ValidationError):
                    form.add_service_errors(exc)
                else:
                    form.add_error(None, _error_text(exc))
            else:
                messages.success(request, text)
                return redirect("activities:checkin_code")
        failed = form
    for row in rows:
        if failed is not None and row.shift_id == _int(failed.data.get("shift")):
            row.form = failed  # type: ignore[attr-defined]
        else:
            row.form = CodeCheckinForm(  # type: ignore[attr-defined]
                initial={"shift": row.shift_id},
                auto_id=f"id_%s_{row.shift_id}",
            )
    return render(request, "activities/me/checkin_code.html", {"rows": rows})


# --- my hours and declarations ---------------------------------------------------------------


def _year_grid(summary: selectors.MyHours) -> tuple[list[str], list[dict[str, Any]]]:
    """The year × category table: columns in order of hours, one row per year."""
    columns = [name for name, _hours in summary.by_category]
    totals = dict(summary.by_year)
    rows = []
    for year, _total in summary.by_year:
        cells = dict(summary.by_year_category.get(year, []))
        rows.append(
            {
                "year": year,
                "total": totals[year],
                "cells": [cells.get(name, "") for name in columns],
            }
        )
    return columns, rows


@require_safe
@login_required
@volunteer_page()
def my_hours(request: HttpRequest, volunteer: Volunteer) -> HttpResponse:
    """我的时长: totals, by year and category, and the records with their status."""
    summary = selectors.my_hours(volunteer=volunteer)
    years = [year for year, _hours in summary.by_year]
    year = _int(request.GET.get("year"))
    year = year if year in years else None
    records = selectors.my_records(volunteer=volunteer, year=year)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    columns, grid = _year_grid(summary)
    return render(
        request,
        "activities/me/my_hours.html",
        {
            "volunteer": volunteer,
            "summary": summary,
            "years": years,
            "year": year,
            "year_query": urlencode({"year": year}) if year else "",
            "columns": columns,
            "grid": grid,
            "page": page,
        },
    )


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
@volunteer_page(registered=True)
def declare(request: HttpRequest, volunteer: Volunteer) -> HttpResponse:
    """申报服务时长: work done outside activities, confirmed later by the chosen org."""
    orgs = record_services.declarable_orgs(volunteer)
    form = DeclareForm(request.POST or None, orgs=orgs)
    if request.method == "POST" and form.is_valid():
        data = record_services.RecordInput(
            served_on=form.cleaned_data["served_on"],
            minutes=form.cleaned_data["total_minutes"],
            content=form.cleaned_data["content"],
            place=form.cleaned_data["place"],
            category=form.cleaned_data["category"],
        )
        try:
            record = record_services.record_declare(
                actor=request.user, volunteer=volunteer, org=form.cleaned_data["org"], data=data
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request,
                _("已提交申报：%(date)s %(hours)s 小时，等待“%(org)s”确认。")
                % {"date": record.served_on, "hours": record.hours, "org": record.org.name},
            )
            return redirect("activities:my_hours")
    return render(request, "activities/me/declare.html", {"form": form})


# --- certificates --------------------------------------------------------------------------


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
@volunteer_page()
def my_certificates(request: HttpRequest, volunteer: Volunteer) -> HttpResponse:
    """我的证明: applications with their status, the apply form, downloads."""
    orgs = record_services.certificate_orgs(volunteer)
    form = CertificateApplyForm(request.POST or None, orgs=orgs)
    if request.method == "POST" and form.is_valid():
        try:
            applied = record_services.certificate_apply(
                actor=request.user,
                volunteer=volunteer,
                org=form.cleaned_data["org"],
                period_from=form.cleaned_data["period_from"],
                period_to=form.cleaned_data["period_to"],
                purpose=form.cleaned_data["purpose"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request,
                _("已向“%(org)s”申请志愿服务证明，开具后会通知您。") % {"org": applied.org.name},
            )
            return redirect("activities:my_certificates")
    certificates = selectors.my_certificates(volunteer=volunteer)
    page = Paginator(certificates, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "activities/me/my_certificates.html",
        {"form": form, "page": page, "can_apply": bool(orgs), "open_form": form.is_bound},
    )


def _certificate_for(request: HttpRequest, certificate_id: int) -> Certificate:
    """The volunteer's own certificate, or one an organiser may see; else 404."""
    volunteer = _volunteer(request)
    if volunteer is not None:
        try:
            return selectors.my_certificate_get(volunteer=volunteer, certificate_id=certificate_id)
        except Http404:
            pass
    return selectors.certificate_get_managed(scope=_scope(request), certificate_id=certificate_id)


def verify_url(certificate: Certificate) -> str:
    """The public verification address printed (and QR-coded) on the certificate."""
    query = urlencode(
        {"no": certificate.number or "", "code": certificate.snapshot.get("verify_code", "")}
    )
    return f"{settings.HUZHU_PUBLIC_URL}{reverse('activities:verify')}?{query}"


@require_safe
@login_required
@never_cache
def certificate_pdf(request: HttpRequest, certificate_id: int) -> HttpResponse:
    certificate = _certificate_for(request, certificate_id)
    if certificate.status not in (CertificateStatus.ISSUED, CertificateStatus.REVOKED):
        raise Http404
    record_services.certificate_download_logged(actor=request.user, certificate=certificate)
    content = render_certificate_pdf(certificate, verify_url(certificate))
    response = HttpResponse(content, content_type="application/pdf")
    filename = _("志愿服务证明-%(number)s.pdf") % {"number": certificate.number}
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


# --- public verification -----------------------------------------------------------------------


@require_safe
def verify(request: HttpRequest) -> HttpResponse:
    """PUBLIC: anyone holding a certificate checks its number and verification code. Only a
    match shows anything, and then only a masked name and the certified totals."""
    asked = "no" in request.GET or "code" in request.GET
    form = VerifyForm(request.GET if asked else None)
    result = None
    if asked and form.is_valid():
        result = selectors.certificate_verify(
            number=form.cleaned_data["no"], code=form.cleaned_data["code"]
        )
    response = render(
        request,
        "activities/public/verify.html",
        {"form": form, "result": result, "checked": asked and form.is_valid()},
    )
    response["X-Robots-Tag"] = "noindex"
    return response
