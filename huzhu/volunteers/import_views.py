"""Register import pages: upload → preview (a dry run) → commit → result, and the error
report. The uploaded file waits under ``MEDIA_ROOT/imports/<token>.xlsx`` beside a JSON
state file; a token belongs to the user who uploaded it (their session and the state file
both say so), and anyone else gets the same 404 as for a token that does not exist."""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.common.audit import log_action
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers.importer import (
    COLUMNS,
    IMPORT_KINDS,
    ImportFileError,
    ImportResult,
    volunteer_import,
    write_error_report,
)

SESSION_KEY = "volunteer_imports"
SESSION_KEEP = 20  # tokens remembered per session
KEEP_SECONDS = 3 * 24 * 3600  # uploaded files older than this are removed
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
ERRORS_SHOWN = 2000  # the page lists this many errors; the report has them all
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def import_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("名册文件（Excel .xlsx）"),
        widget=forms.ClearableFileInput(
            attrs={
                "class": "form-control form-control-lg",
                "accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            }
        ),
    )
    org = forms.ModelChoiceField(
        label=gettext_lazy("导入到"),
        queryset=Org.objects.none(),
        empty_label=gettext_lazy("请选择社区、网格或街道"),
        widget=forms.Select(attrs={"class": "form-select form-select-lg"}),
    )

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = (  # type: ignore[attr-defined]
            Org.objects.within(scope, Perm.VOLUNTEER_MANAGE)
            .filter(kind__in=IMPORT_KINDS, is_active=True)
            .order_by("path")
        )
        self.fields["org"].label_from_instance = (  # type: ignore[attr-defined]
            lambda org: f"{'　' * min(org.depth, 6)}{org.name}（{org.get_kind_display()}）"
        )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                _("文件太大（上限 %(mb)s MB）") % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)}
            )
        return upload


# --- state --------------------------------------------------------------------------------


def _paths(token: str) -> tuple[Path, Path]:
    base = import_dir()
    return base / f"{token}.xlsx", base / f"{token}.json"


def _load(request: HttpRequest, token: str) -> dict[str, Any]:
    """The state of the user's own import, or 404 (also for someone else's token)."""
    if not _TOKEN.match(token) or token not in request.session.get(SESSION_KEY, []):
        raise Http404(_("导入记录不存在或已过期"))
    upload, state_file = _paths(token)
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Http404(_("导入记录不存在或已过期")) from exc
    if state.get("user_id") != request.user.pk or not upload.exists():
        raise Http404(_("导入记录不存在或已过期"))
    state["token"] = token
    return state


def _save(token: str, state: dict[str, Any]) -> None:
    _upload, state_file = _paths(token)
    data = {k: v for k, v in state.items() if k != "token"}
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    tmp.replace(state_file)


def _remember(request: HttpRequest, token: str) -> None:
    tokens = [t for t in request.session.get(SESSION_KEY, []) if t != token]
    request.session[SESSION_KEY] = [*tokens, token][-SESSION_KEEP:]


def _purge_old() -> None:
    """Best effort: uploads nobody came back to are not kept for ever."""
    cutoff = time.time() - KEEP_SECONDS
    for path in import_dir().iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            continue


def _org(scope: Scope, state: dict[str, Any]) -> Org:
    return get_object_or_404(Org.objects.within(scope, Perm.VOLUNTEER_MANAGE), pk=state["org_id"])


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


# --- pages --------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def import_upload(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    if not scope.can(Perm.VOLUNTEER_MANAGE):
        raise PermissionDenied(_("您没有导入志愿者名册的权限"))
    form = ImportUploadForm(request.POST or None, request.FILES or None, scope=scope)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        org = form.cleaned_data["org"]
        _purge_old()
        token = secrets.token_urlsafe(24)
        path, _state_file = _paths(token)
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        try:
            preview = volunteer_import(
                actor=request.user,
                scope=scope,
                org=org,
                source=path,
                file_name=Path(upload.name).name,
                dry_run=True,
            )
        except ImportFileError as exc:
            path.unlink(missing_ok=True)
            form.add_error("file", exc.message)
        except (PermissionDenied, ValidationError) as exc:
            path.unlink(missing_ok=True)
            form.add_error("org", exc.messages if isinstance(exc, ValidationError) else str(exc))
        else:
            _save(
                token,
                {
                    "user_id": request.user.pk,
                    "org_id": org.pk,
                    "org_name": org.name,
                    "file_name": preview.file_name,
                    "uploaded_at": timezone.now().isoformat(),
                    "preview": preview.as_dict(),
                    "result": None,
                },
            )
            _remember(request, token)
            return redirect("volunteers:import_preview", token=token)
    return render(
        request,
        "volunteers/import.html",
        {"form": form, "columns": COLUMNS},
    )


@require_safe
@login_required
@never_cache
def import_preview(request: HttpRequest, token: str) -> HttpResponse:
    state = _load(request, token)
    preview = ImportResult.from_dict(state["preview"])
    result = ImportResult.from_dict(state["result"]) if state.get("result") else None
    if result is not None and result.committed:
        return render(
            request,
            "volunteers/import_result.html",
            {
                "state": state,
                "result": result,
                "errors": result.errors[:ERRORS_SHOWN],
                "errors_hidden": max(0, len(result.errors) - ERRORS_SHOWN),
            },
        )
    return render(
        request,
        "volunteers/import_preview.html",
        {
            "state": state,
            "preview": preview,
            "strict_failed": result,  # a strict import that found bad rows
            "errors": preview.errors[:ERRORS_SHOWN],
            "errors_hidden": max(0, len(preview.errors) - ERRORS_SHOWN),
            "preview_fields": PREVIEW_FIELDS,
            "preview_rows": [
                (item, [item.get(key, "") for key, _label in PREVIEW_FIELDS])
                for item in preview.preview
            ],
        },
    )


PREVIEW_FIELDS = (
    ("name", gettext_lazy("姓名")),
    ("id_number", gettext_lazy("身份证号")),
    ("gender", gettext_lazy("性别")),
    ("birth_date", gettext_lazy("出生日期")),
    ("phone", gettext_lazy("手机")),
    ("org", gettext_lazy("所属社区")),
    ("teams", gettext_lazy("服务队")),
    ("skills", gettext_lazy("技能")),
    ("categories", gettext_lazy("服务类别")),
    ("served_groups", gettext_lazy("服务对象")),
    ("availability", gettext_lazy("可服务时间")),
    ("political_status", gettext_lazy("政治面貌")),
    ("historical_hours", gettext_lazy("历史时长（小时）")),
)


@require_POST
@login_required
@never_cache
def import_commit(request: HttpRequest, token: str) -> HttpResponse:
    state = _load(request, token)
    scope = _scope(request)
    org = _org(scope, state)
    previous = state.get("result")
    if previous and previous.get("committed"):
        messages.info(request, _("该文件已经导入过了"))
        return redirect("volunteers:import_preview", token=token)
    strict = request.POST.get("mode") == "strict"
    upload, _state_file = _paths(token)
    try:
        result = volunteer_import(
            actor=request.user,
            scope=scope,
            org=org,
            source=upload,
            file_name=state["file_name"],
            strict=strict,
        )
    except ImportFileError as exc:
        messages.error(request, exc.message)
        return redirect("volunteers:import_preview", token=token)
    state["result"] = result.as_dict()
    _save(token, state)
    if result.committed:
        messages.success(
            request,
            _("已导入：新增 %(i)s 人，更新 %(u)s 人，错误 %(r)s 行")
            % {"i": result.imported, "u": result.updated, "r": result.rejected},
        )
    else:
        messages.error(
            request,
            _("严格模式：发现 %(r)s 行错误，未导入任何数据") % {"r": result.rejected},
        )
    return redirect("volunteers:import_preview", token=token)


@require_safe
@login_required
@never_cache
def import_report(request: HttpRequest, token: str) -> HttpResponse:
    state = _load(request, token)
    scope = _scope(request)
    org = _org(scope, state)
    data = state.get("result") or state["preview"]
    result = ImportResult.from_dict(data)
    upload, _state_file = _paths(token)
    user = request.user.get_username()
    watermark = _("导入错误报告：%(file)s → %(org)s；导出人：%(user)s；%(time)s") % {
        "file": state["file_name"],
        "org": org.name,
        "user": user,
        "time": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
    }
    out = tempfile.TemporaryFile()  # noqa: SIM115 — FileResponse closes it
    written = write_error_report(source=upload, result=result, out=out, watermark=watermark)
    out.seek(0)
    log_action(
        request.user,
        "volunteer.import_report",
        org,
        {"file": state["file_name"], "rows": written},
    )
    stem = Path(state["file_name"]).stem or "register"
    return FileResponse(
        out,
        as_attachment=True,
        filename=f"{stem}-错误报告.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
