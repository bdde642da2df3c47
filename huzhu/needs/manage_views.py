"""Placeholder: replaced by the page implementation."""

from django.http import HttpRequest, HttpResponse


def need_list(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def need_new(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def need_detail(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def invite(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def broadcast(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def application_approve(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def application_decline(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def dispute_return(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def dispute_close(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def offer_list(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def unit_offer_new(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError
