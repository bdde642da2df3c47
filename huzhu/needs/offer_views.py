"""我的服务 (供给): a volunteer publishes what they can do, where and when — categories, the
weekly 7×3 availability grid, a place — and switches an offer on or off. Matching reads the
offers (``services.offer_save`` refreshes the volunteer's match profile).

Only the volunteer's own offers: anyone else's is missing (404)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as notices
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from huzhu.needs import selectors, services
from huzhu.needs.forms import OfferForm
from huzhu.needs.models import Offer
from huzhu.needs.views import GET_OR_POST, INVALID, not_volunteer, own_volunteer, refusal
from huzhu.volunteers.availability import DAY_LABELS, DAYS, PERIOD_LABELS, PERIODS, describe


def availability_grid(selected: list[str]) -> list[dict[str, Any]]:
    """Rows of the 7×3 grid for ``volunteers/_availability_grid.html``."""
    chosen = set(selected)
    return [
        {
            "label": DAY_LABELS[d],
            "cells": [
                (f"{day}_{period}", PERIOD_LABELS[p], f"{day}_{period}" in chosen)
                for p, period in enumerate(PERIODS)
            ],
        }
        for d, day in enumerate(DAYS)
    ]


@require_safe
@login_required
def my_offers(request: HttpRequest) -> HttpResponse:
    """我的服务: my offers, those in effect first, each with its times in words."""
    volunteer = own_volunteer(request)
    if volunteer is None:
        return not_volunteer(request)
    offers = sorted(selectors.my_offers(volunteer=volunteer), key=lambda offer: not offer.is_active)
    for offer in offers:
        offer.when = describe(offer.availability)  # type: ignore[attr-defined]
    return render(request, "needs/people/offers.html", {"volunteer": volunteer, "offers": offers})


def _save(request: HttpRequest, volunteer: Any, offer: Offer | None) -> HttpResponse:
    initial = OfferForm.initial_for(offer) if offer is not None else None
    form = OfferForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.offer_save(
                actor=request.user, volunteer=volunteer, data=form.to_input(), offer=offer
            )
        except PermissionDenied as exc:
            form.add_error(None, refusal(exc))
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            notices.success(request, _("服务信息已保存，会用于为您推荐合适的求助。"))
            return redirect("needs:my_offers")
    context = {
        "form": form,
        "offer": offer,
        "grid": availability_grid(form.selected_slots()),
        "period_labels": PERIOD_LABELS,
    }
    status = INVALID if form.is_bound and form.errors else 200
    return render(request, "needs/people/offer_form.html", context, status=status)


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
def offer_new(request: HttpRequest) -> HttpResponse:
    volunteer = own_volunteer(request)
    if volunteer is None:
        if request.method == "POST":
            raise Http404
        return not_volunteer(request)
    return _save(request, volunteer, None)


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
def offer_edit(request: HttpRequest, offer_id: int) -> HttpResponse:
    volunteer = own_volunteer(request)
    if volunteer is None:
        raise Http404
    offer = get_object_or_404(selectors.my_offers(volunteer=volunteer), pk=offer_id)
    return _save(request, volunteer, offer)
