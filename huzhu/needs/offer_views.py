"""Placeholder: replaced by the page implementation."""

from django.http import HttpRequest, HttpResponse


def my_offers(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def offer_new(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def offer_edit(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError
