"""The administrator's pages for Open311 application keys (desktop).

Only users with ``Perm.ORG_MANAGE`` (admins) reach them; they see and revoke the keys of
their subtree. A new key's plaintext is shown once, on the page that answers the POST
(never in a redirect, the session or a URL), which is never cached.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.desk.key_services import (
    KEY_ORG_KINDS,
    appkey_issue,
    appkey_list,
    appkey_revoke,
    key_label,
)
from huzhu.orgs.forms import BootstrapForm, add_service_errors
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def _require_admin(scope: Scope) -> None:
    if not scope.can(Perm.ORG_MANAGE):
        raise PermissionDenied(_("只有管理员可以管理应用密钥。"))


def key_orgs(scope: Scope) -> QuerySet[Org]:
    return (
        Org.objects.within(scope, Perm.ORG_MANAGE)
        .filter(kind__in=KEY_ORG_KINDS, is_active=True)
        .order_by("path")
    )


class OrgChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Org) -> str:
        return f"{obj.name}（{obj.get_kind_display()}）"


class KeyForm(BootstrapForm):
    org = OrgChoice(
        label=gettext_lazy("适用范围"),
        queryset=Org.objects.none(),
        empty_label=gettext_lazy("请选择"),
        help_text=gettext_lazy("该应用提交的问题分派到此范围内离报告位置最近的社区"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    name = forms.CharField(
        label=gettext_lazy("应用名称"),
        max_length=100,
        help_text=gettext_lazy("例如：解放路街道微信小程序"),
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = key_orgs(scope)  # type: ignore[attr-defined]


@require_safe
@login_required
def key_list(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    _require_admin(scope)
    keys = [(key, key_label(key)) for key in appkey_list(scope=scope)]
    return render(request, "desk/keys/list.html", {"keys": keys})


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def key_new(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    _require_admin(scope)
    form = KeyForm(request.POST or None, scope=scope)
    if request.method == "POST" and form.is_valid():
        try:
            key, raw = appkey_issue(
                actor=request.user,
                scope=scope,
                org=form.cleaned_data["org"],
                name=form.cleaned_data["name"],
            )
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            context = {"key": key, "raw": raw, "label": key_label(key)}
            return render(request, "desk/keys/issued.html", context)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "desk/keys/new.html", {"form": form}, status=status)


@require_POST
@login_required
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = appkey_revoke(actor=request.user, scope=_scope(request), key_id=key_id)
    messages.success(
        request,
        _("已吊销应用密钥 %(label)s（%(name)s），该应用已不能再提交。")
        % {"label": key_label(key), "name": key.name},
    )
    return redirect(reverse("desk:keys"))
