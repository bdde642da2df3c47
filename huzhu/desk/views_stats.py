"""统计分析: the desk's figures for supervisors and workers (desktop), with charts, and the
same figures as an Excel workbook.

Anyone with VIEW over some org may open the page; the figures cover only the tickets of
their subtree (``desk.stats``). The filter bar takes a period and optionally one street,
community or grid of that subtree; a filter that does not parse is shown with its error and
dropped. The export is watermarked with the period, the scope and the user, and audited.
"""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from huzhu.activities.manage_views import request_scope, require_perm
from huzhu.desk import stats
from huzhu.desk.export import XLSX, desk_stats_export
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.web.forms import model_filter


def _date() -> forms.DateInput:
    return forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d")


class StatsFilterForm(forms.Form):
    """The GET form of the statistics page (and its export)."""

    date_from = forms.DateField(label=_("登记日期从"), required=False, widget=_date())
    date_to = forms.DateField(label=_("至"), required=False, widget=_date())
    org = model_filter(_("街道/社区/网格"), _("全部"))

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = stats.stats_orgs(scope=scope)
        self.fields["org"].label_from_instance = _org_label

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name, messages in stats.period_errors(
            data.get("date_from"), data.get("date_to")
        ).items():
            for message in messages:
                self.add_error(name, message)
        return data

    def filters(self) -> stats.StatsFilters:
        """The valid filters; a wrong period falls back to this year, a wrong org to all."""
        data: dict[str, Any] = {}
        if self.is_bound:
            self.is_valid()
            data = self.cleaned_data
        org = data.get("org")
        try:
            return stats.stats_filters(
                date_from=data.get("date_from"),
                date_to=data.get("date_to"),
                org_id=org.pk if org else None,
            )
        except ValidationError:
            return stats.stats_filters(org_id=org.pk if org else None)


def _org_label(org: Any) -> str:
    indent = "　" * max(0, org.depth - 2)
    return f"{indent}{org.name}（{org.get_kind_display()}）"


def _figures(request: HttpRequest) -> tuple[StatsFilterForm, stats.DeskStats]:
    scope = request_scope(request)
    require_perm(scope, Perm.VIEW)
    form = StatsFilterForm(request.GET or None, scope=scope)
    return form, stats.desk_stats(scope=scope, filters=form.filters())


def _query(figures: stats.DeskStats) -> str:
    query = f"date_from={figures.date_from:%Y-%m-%d}&date_to={figures.date_to:%Y-%m-%d}"
    return f"{query}&org={figures.org_id}" if figures.org_id else query


@require_safe
@login_required
def stats_page(request: HttpRequest) -> HttpResponse:
    """统计分析: KPI cards, breakdown tables and charts for the chosen period and org."""
    form, figures = _figures(request)
    context = {
        "form": form,
        "stats": figures,
        "chart_data": figures.chart_data(),
        "export_query": _query(figures),
    }
    return render(request, "desk/stats/page.html", context)


@require_safe
@login_required
def stats_export(request: HttpRequest) -> HttpResponse:
    """The figures as .xlsx, one sheet per breakdown; audited when there is anything in it."""
    _form, figures = _figures(request)
    stream = io.BytesIO()
    desk_stats_export(actor=request.user, stats=figures, stream=stream)
    filename = f"服务台统计-{figures.date_from:%Y%m%d}-{figures.date_to:%Y%m%d}.xlsx"
    response = HttpResponse(stream.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response
