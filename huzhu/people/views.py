from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def person_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("people")


@login_required
def me(request: HttpRequest) -> HttpResponse:
    return HttpResponse("me")


@login_required
def tags(request: HttpRequest) -> HttpResponse:
    return HttpResponse("tags")
