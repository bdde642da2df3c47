"""Training and qualification pages: courses and their sessions, the attendance sheet (one
POST, one service call), a volunteer's certificates and the list of certificates expiring.

Views parse input, call one selector or service, and render. Objects outside the scope are
missing (404); a visible object the user may not change answers 403.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.orgs.forms import BootstrapForm, add_service_errors
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers import team_selectors as selectors
from huzhu.volunteers import training_services as services
from huzhu.volunteers.models import Course, Qualification, TrainingSession, Volunteer
from huzhu.volunteers.selectors import volunteer_get

INVALID = 400
COURSES_PER_PAGE = 50
UPCOMING_SESSIONS = 20
EXPIRING_PER_PAGE = 50


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def _require_training(scope: Scope, org: Org) -> None:
    if not scope.can(Perm.TEAM_MANAGE, org):
        raise PermissionDenied(_("您没有管理该组织培训的权限"))


def _require_register(scope: Scope, volunteer: Volunteer) -> None:
    if not scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org):
        raise PermissionDenied(_("您没有管理该志愿者资格证书的权限"))


# --- forms ------------------------------------------------------------------------------

_SELECT = {"class": "form-select"}
_INPUT = {"class": "form-control"}


class CourseForm(BootstrapForm):
    org = forms.ModelChoiceField(
        label=gettext_lazy("主办组织"),
        queryset=Org.objects.none(),
        empty_label=gettext_lazy("请选择"),
        widget=forms.Select(attrs=_SELECT),
    )
    name = forms.CharField(
        label=gettext_lazy("课程名称"), max_length=100, widget=forms.TextInput(attrs=_INPUT)
    )
    category = forms.ModelChoiceField(
        label=gettext_lazy("服务类别"),
        queryset=selectors.category_choices(),
        required=False,
        empty_label=gettext_lazy("不限"),
        widget=forms.Select(attrs=_SELECT),
    )
    minutes = forms.IntegerField(
        label=gettext_lazy("学时（分钟）"),
        initial=120,
        min_value=0,
        max_value=2**31 - 1,
        widget=forms.NumberInput(attrs=_INPUT),
    )
    grants_qualification = forms.ModelChoiceField(
        label=gettext_lazy("结业后取得资格"),
        queryset=selectors.qualification_type_choices(),
        required=False,
        empty_label=gettext_lazy("无"),
        widget=forms.Select(attrs=_SELECT),
    )
    description = forms.CharField(
        label=gettext_lazy("简介"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={**_INPUT, "rows": 2}),
    )
    is_active = forms.BooleanField(
        label=gettext_lazy("启用"),
        required=False,
        initial=True,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(
        self, *args: Any, scope: Scope, course: Course | None = None, **kwargs: Any
    ) -> None:
        if course is not None:
            kwargs.setdefault(
                "initial",
                {
                    "org": course.org_id,
                    "name": course.name,
                    "category": course.category_id,
                    "minutes": course.minutes,
                    "grants_qualification": course.grants_qualification_id,
                    "description": course.description,
                    "is_active": course.is_active,
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = selectors.course_org_choices(scope=scope)
        if course is None:
            del self.fields["is_active"]


class SessionForm(BootstrapForm):
    starts_at = forms.DateTimeField(
        label=gettext_lazy("开始时间"),
        widget=forms.DateTimeInput(
            attrs={**_INPUT, "type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
        ),
    )
    ends_at = forms.DateTimeField(
        label=gettext_lazy("结束时间"),
        widget=forms.DateTimeInput(
            attrs={**_INPUT, "type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
        ),
    )
    place = forms.CharField(
        label=gettext_lazy("地点"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs=_INPUT),
    )
    trainer = forms.CharField(
        label=gettext_lazy("授课人"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs=_INPUT),
    )


class QualificationForm(BootstrapForm):
    kind = forms.ModelChoiceField(
        label=gettext_lazy("证书类型"),
        queryset=selectors.qualification_type_choices(),
        empty_label=gettext_lazy("请选择"),
        widget=forms.Select(attrs=_SELECT),
    )
    certificate_no = forms.CharField(
        label=gettext_lazy("证书编号"),
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs=_INPUT),
    )
    issuer = forms.CharField(
        label=gettext_lazy("发证机构"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs=_INPUT),
    )
    issued_on = forms.DateField(
        label=gettext_lazy("发证日期"),
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    expires_on = forms.DateField(
        label=gettext_lazy("有效期至"),
        required=False,
        help_text=gettext_lazy("留空则按证书类型的有效期自动计算"),
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, qualification: Qualification | None = None, **kwargs: Any):
        if qualification is not None:
            kwargs.setdefault(
                "initial",
                {
                    "kind": qualification.kind_id,
                    "certificate_no": qualification.certificate_no,
                    "issuer": qualification.issuer,
                    "issued_on": qualification.issued_on,
                    "expires_on": qualification.expires_on,
                },
            )
        super().__init__(*args, **kwargs)


class ExpiringFilterForm(forms.Form):
    kind = forms.ModelChoiceField(
        label=gettext_lazy("证书类型"),
        queryset=selectors.qualification_type_choices(),
        required=False,
        empty_label=gettext_lazy("全部"),
        widget=forms.Select(attrs=_SELECT),
    )
    state = forms.ChoiceField(
        label=gettext_lazy("状态"),
        required=False,
        choices=[
            ("", gettext_lazy("即将到期和已过期")),
            ("expiring", gettext_lazy("即将到期")),
            ("expired", gettext_lazy("已过期")),
        ],
        widget=forms.Select(attrs=_SELECT),
    )


# --- courses ----------------------------------------------------------------------------


def _require_view(scope: Scope) -> None:
    if not (scope.can(Perm.VOLUNTEER_VIEW) or scope.can(Perm.TEAM_MANAGE)):
        raise PermissionDenied(_("您没有访问该页面的权限"))


def _render_training(
    request: HttpRequest, form: CourseForm | None = None, status: int = 200
) -> HttpResponse:
    scope = _scope(request)
    _require_view(scope)
    search = (request.GET.get("q") or "").strip()[:50]
    page = Paginator(selectors.course_list(scope=scope, search=search), COURSES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    can_manage = scope.can(Perm.TEAM_MANAGE)
    context = {
        "page": page,
        "search": search,
        "upcoming": list(selectors.session_list(scope=scope, upcoming=True)[:UPCOMING_SESSIONS]),
        "can_manage": can_manage,
        "form": form or (CourseForm(scope=scope) if can_manage else None),
        "open_form": form is not None,
    }
    return render(request, "volunteers/training.html", context, status=status)


@login_required
@require_safe
def training(request: HttpRequest) -> HttpResponse:
    return _render_training(request)


@login_required
@require_POST
def course_create(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    if not scope.can(Perm.TEAM_MANAGE):
        raise PermissionDenied(_("您没有管理培训的权限"))
    form = CourseForm(request.POST, scope=scope)
    if form.is_valid():
        try:
            course = services.course_create(actor=request.user, scope=scope, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("已新建课程：%(name)s") % {"name": course.name})
            return redirect("volunteers:course_detail", course_id=course.pk)
    return _render_training(request, form, INVALID)


def _render_course(
    request: HttpRequest,
    course: Course,
    session_form: SessionForm | None = None,
    course_form: CourseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    scope = _scope(request)
    can_manage = scope.can(Perm.TEAM_MANAGE, course.org)
    context = {
        "course": course,
        "sessions": list(selectors.session_list(scope=scope, course=course)),
        "can_manage": can_manage,
        "session_form": session_form or (SessionForm() if can_manage else None),
        "course_form": course_form
        or (CourseForm(scope=scope, course=course) if can_manage else None),
        "open_section": "session" if session_form else "course" if course_form else "",
    }
    return render(request, "volunteers/course_detail.html", context, status=status)


@login_required
@require_safe
def course_detail(request: HttpRequest, course_id: int) -> HttpResponse:
    course = selectors.course_get(scope=_scope(request), course_id=course_id)
    return _render_course(request, course)


@login_required
@require_POST
def course_edit(request: HttpRequest, course_id: int) -> HttpResponse:
    scope = _scope(request)
    course = selectors.course_get(scope=scope, course_id=course_id)
    _require_training(scope, course.org)
    form = CourseForm(request.POST, scope=scope, course=course)
    if form.is_valid():
        try:
            services.course_update(
                actor=request.user, scope=scope, course=course, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("已保存课程"))
            return redirect("volunteers:course_detail", course_id=course.pk)
    return _render_course(request, course, course_form=form, status=INVALID)


@login_required
@require_POST
def session_create(request: HttpRequest, course_id: int) -> HttpResponse:
    scope = _scope(request)
    course = selectors.course_get(scope=scope, course_id=course_id)
    _require_training(scope, course.org)
    form = SessionForm(request.POST)
    if form.is_valid():
        try:
            session = services.session_create(
                actor=request.user, scope=scope, course=course, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("已安排培训场次"))
            return redirect("volunteers:session_detail", session_id=session.pk)
    return _render_course(request, course, session_form=form, status=INVALID)


# --- the attendance sheet ---------------------------------------------------------------


def _parse_sheet(
    request: HttpRequest, session: TrainingSession
) -> tuple[list[services.AttendanceRow], list[str]]:
    """The sheet's rows from one POST: ``row`` lists the volunteer ids shown; per id,
    ``attended_<id>``, ``passed_<id>`` and ``minutes_<id>``. Unticked rows without a record
    are left out, so an untouched sheet records nothing."""
    ids: list[int] = []
    for raw in request.POST.getlist("row"):
        if raw.isdigit() and len(raw) < 19 and int(raw) not in ids:
            ids.append(int(raw))
    volunteers = selectors.sheet_volunteers_by_id(session=session, ids=ids)
    recorded = {a.volunteer_id for a in selectors.attendance_list(session=session)}
    rows: list[services.AttendanceRow] = []
    errors: list[str] = []
    for vid in ids:
        volunteer = volunteers.get(vid)
        if volunteer is None:
            continue  # not (or no longer) on this sheet
        attended = request.POST.get(f"attended_{vid}") == "on"
        if not attended and vid not in recorded:
            continue
        raw_minutes = (request.POST.get(f"minutes_{vid}") or "").strip()
        minutes = None
        if raw_minutes:
            if not raw_minutes.isdigit() or len(raw_minutes) > 6:
                errors.append(_("%(name)s：学时（分钟）应为整数") % {"name": volunteer.person.name})
                continue
            minutes = int(raw_minutes)
        rows.append(
            services.AttendanceRow(
                volunteer=volunteer,
                attended=attended,
                passed=request.POST.get(f"passed_{vid}") == "on",
                minutes=minutes,
            )
        )
    return rows, errors


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    scope = _scope(request)
    session = selectors.session_get(scope=scope, session_id=session_id)
    can_manage = scope.can(Perm.TEAM_MANAGE, session.course.org)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        _require_training(scope, session.course.org)
        rows, errors = _parse_sheet(request, session)
        if not errors:
            try:
                result = services.attendance_record(
                    actor=request.user, scope=scope, session=session, rows=rows
                )
            except ValidationError as exc:
                errors = exc.messages
            else:
                messages.success(
                    request,
                    _("已保存签到表：新增%(c)s人，更新%(u)s人；颁发证书%(q)s份，续期%(r)s份")
                    % {
                        "c": result.created,
                        "u": result.updated,
                        "q": len(result.qualifications_created),
                        "r": len(result.qualifications_renewed),
                    },
                )
                return redirect("volunteers:session_detail", session_id=session.pk)
        status = INVALID
    context = {
        "session": session,
        "course": session.course,
        "can_manage": can_manage,
        "errors": errors,
        "sheet": selectors.attendance_sheet(session=session) if can_manage else None,
        "attendances": None if can_manage else list(selectors.attendance_list(session=session)),
        "default_minutes": session.course.minutes,
        "is_past": session.starts_at <= timezone.now(),
    }
    return render(request, "volunteers/training_session.html", context, status=status)


# --- qualifications ---------------------------------------------------------------------


def _render_qualifications(
    request: HttpRequest,
    volunteer: Volunteer,
    form: QualificationForm | None = None,
    status: int = 200,
) -> HttpResponse:
    scope = _scope(request)
    can_manage = scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org)
    context = {
        "volunteer": volunteer,
        "qualifications": list(selectors.qualification_list(volunteer=volunteer)),
        "trainings": list(selectors.volunteer_trainings(volunteer=volunteer)),
        "memberships": list(selectors.team_memberships_of(volunteer=volunteer)),
        "today": timezone.localdate(),
        "can_manage": can_manage,
        "form": form or (QualificationForm() if can_manage else None),
        "open_form": form is not None,
    }
    return render(request, "volunteers/qualification_list.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def qualifications(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    scope = _scope(request)
    volunteer = volunteer_get(scope=scope, volunteer_id=volunteer_id)
    if request.method != "POST":
        return _render_qualifications(request, volunteer)
    _require_register(scope, volunteer)
    form = QualificationForm(request.POST)
    if form.is_valid():
        try:
            qualification = services.qualification_add(
                actor=request.user, scope=scope, volunteer=volunteer, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, _("已登记资格证书：%(kind)s") % {"kind": qualification.kind.name}
            )
            return redirect("volunteers:qualifications", volunteer_id=volunteer.pk)
    return _render_qualifications(request, volunteer, form, INVALID)


def _qualification(request: HttpRequest, qualification_id: int) -> Qualification:
    qualification = selectors.qualification_get(
        scope=_scope(request), qualification_id=qualification_id
    )
    _require_register(_scope(request), qualification.volunteer)
    return qualification


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def qualification_edit(request: HttpRequest, qualification_id: int) -> HttpResponse:
    scope = _scope(request)
    qualification = _qualification(request, qualification_id)
    status = 200
    if request.method == "POST":
        form = QualificationForm(request.POST, qualification=qualification)
        if form.is_valid():
            try:
                services.qualification_update(
                    actor=request.user,
                    scope=scope,
                    qualification=qualification,
                    **form.cleaned_data,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("已保存资格证书"))
                return redirect(
                    "volunteers:qualifications", volunteer_id=qualification.volunteer_id
                )
        status = INVALID
    else:
        form = QualificationForm(qualification=qualification)
    return render(
        request,
        "volunteers/qualification_edit.html",
        {"qualification": qualification, "volunteer": qualification.volunteer, "form": form},
        status=status,
    )


@login_required
@require_POST
def qualification_remove(request: HttpRequest, qualification_id: int) -> HttpResponse:
    scope = _scope(request)
    qualification = _qualification(request, qualification_id)
    volunteer_id, name = qualification.volunteer_id, qualification.kind.name
    services.qualification_remove(actor=request.user, scope=scope, qualification=qualification)
    messages.success(request, _("已删除资格证书：%(kind)s") % {"kind": name})
    return redirect("volunteers:qualifications", volunteer_id=volunteer_id)


@login_required
@require_safe
def qualifications_expiring(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    if not scope.can(Perm.VOLUNTEER_VIEW):
        raise PermissionDenied(_("您没有访问该页面的权限"))
    form = ExpiringFilterForm(request.GET or None)
    kind, state = None, ""
    if form.is_bound and form.is_valid():
        kind, state = form.cleaned_data["kind"], form.cleaned_data["state"]
    today = timezone.localdate()
    expired = {"expired": True, "expiring": False}.get(state)
    qs = selectors.qualifications_expiring(scope=scope, today=today, kind=kind, expired=expired)
    page = Paginator(qs, EXPIRING_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "volunteers/qualifications_expiring.html",
        {
            "form": form,
            "page": page,
            "today": today,
            "days": selectors.remind_window_days(),
            "query": query.urlencode(),
        },
    )
