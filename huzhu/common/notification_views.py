"""The user's in-app notifications."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from huzhu.common.selectors import notification_list
from huzhu.common.services import notifications_mark_read


@require_safe
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    page = Paginator(notification_list(user=request.user), 30).get_page(request.GET.get("page"))
    return render(request, "common/notifications.html", {"page": page})


@require_POST
@login_required
def mark_read(request: HttpRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()] or None
    notifications_mark_read(user=request.user, ids=ids)
    return redirect("notifications:inbox")
