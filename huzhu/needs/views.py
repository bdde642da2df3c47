"""Placeholder: replaced by the page implementation."""

from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def ask(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def suggest(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def board(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def invitations(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def invitation_accept(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def invitation_decline(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def detail(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def edit(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def messages(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def recommend(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def apply(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def start(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def done(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def confirm(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def dispute(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError


def cancel(request: HttpRequest, **kwargs: int) -> HttpResponse:
    raise NotImplementedError
