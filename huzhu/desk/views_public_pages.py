"""The public page of a community (no login): its service and supervision phones, the grid
workers and other contacts it publishes, the notice boards (published notices only, latest
ten of each column), the suggestions their authors chose to publish with the community's
replies, and how many civic reports it received this year and closed, with a link to the
public board of reports.

Names: a volunteer named in a 典型事迹 (with their recorded consent) appears; a submitter's
name never does, and a suggestion's author only masked (``张**``) and only when they chose so.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from huzhu.common.identity import mask_name
from huzhu.desk import board_selectors as selectors


@require_safe
def public_community(request: HttpRequest, org_id: int) -> HttpResponse:
    page = selectors.public_community(org_id=org_id)
    for suggestion in page.suggestions:
        shown = suggestion.author_public and suggestion.author is not None
        suggestion.shown_author = mask_name(suggestion.author.name) if shown else ""  # type: ignore[attr-defined,union-attr]
    return render(request, "desk/public/community.html", {"page": page})
