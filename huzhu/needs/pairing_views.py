"""Placeholder: replaced by the page implementation."""

from django.http import HttpRequest, HttpResponse


def my_pairings(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def pairing_detail(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def pairing_visit(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def manage_pairings(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def pairing_new(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def pairing_end(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError
