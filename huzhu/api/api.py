"""The JSON API at /api/v1/: mounts each app's router, auth, errors, OpenAPI and docs.

* ``/api/v1/openapi.json`` — the OpenAPI schema (public: it describes, it holds no data);
* ``/api/v1/docs`` — Swagger UI served from this site (``huzhu.api.docs``; no CDN);
* every other route needs a bearer token (``huzhu token create``) or a logged-in session.
"""

from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI, Schema
from ninja.renderers import JSONRenderer

from huzhu.activities.api import router as activities_router
from huzhu.activities.api_records import router as activities_records_router
from huzhu.api import errors
from huzhu.api.auth import default_auth
from huzhu.api.docs import LocalSwagger, asset_urls
from huzhu.api.types import ErrorOut
from huzhu.desk.api import router as desk_router
from huzhu.desk.api_board import router as desk_board_router
from huzhu.desk.api_stats import router as desk_stats_router
from huzhu.needs.api import router as needs_router
from huzhu.needs.api_pairings import router as needs_pairings_router
from huzhu.orgs.api import router as orgs_router
from huzhu.orgs.roles import Role
from huzhu.people.api import PersonOut
from huzhu.people.api import router as people_router
from huzhu.people.selectors import person_for_user
from huzhu.timebank.api import router as timebank_router
from huzhu.timebank.api_fund import router as timebank_fund_router
from huzhu.volunteers.api import router as volunteers_router
from huzhu.volunteers.api_training import router as volunteers_training_router

DOCS_URL = "/docs"


class Utf8JSONRenderer(JSONRenderer):
    """Chinese text as UTF-8, not ``\\uXXXX`` escapes (the charset is in Content-Type)."""

    json_dumps_params = {"ensure_ascii": False}


class HuzhuAPI(NinjaAPI):
    def _get_urls(self) -> list[URLPattern | URLResolver]:
        urls = super()._get_urls()
        if self.docs_url:
            urls = [*asset_urls(self.docs_url), *urls]
        return urls


api = HuzhuAPI(
    title="Huzhu API",
    version="1",
    description="互助平台 JSON API。认证：Authorization: Bearer <令牌>（`huzhu token create`），"
    "或已登录浏览器的会话（修改类请求需带 CSRF 令牌）。详见 docs/api.md。",
    urls_namespace="api",
    auth=default_auth(),
    docs=LocalSwagger(),
    docs_url=DOCS_URL,
    renderer=Utf8JSONRenderer(),
)
errors.install(api)
api.add_router("/orgs", orgs_router)
api.add_router("/people", people_router)
# Teams, training and qualifications (/volunteers/teams…, /volunteers/training/…,
# /volunteers/{volunteer_id}/qualifications) first: the register's /volunteers/{volunteer_id}
# would otherwise take /volunteers/teams as an id.
api.add_router("/volunteers", volunteers_training_router)
api.add_router("/volunteers", volunteers_router)
# Records and certificates (/activities/records…, /activities/certificates…, /activities/me/…)
# share the /activities prefix with the activities router.
api.add_router("/activities", activities_records_router)
api.add_router("/activities", activities_router)
api.add_router("/timebank", timebank_router)
# 团体时长 (/timebank/teams/…) and the guarantee fund (/timebank/fund/…) share the prefix.
api.add_router("/timebank", timebank_fund_router)
# Offers and pairings (/needs/offers…, /needs/pairings…) first: the needs router's
# /needs/{need_id} would otherwise take /needs/offers as an id.
api.add_router("/needs", needs_pairings_router)
api.add_router("/needs", needs_router)
api.add_router("/desk", desk_stats_router)
api.add_router("/desk", desk_board_router)
api.add_router("/desk", desk_router)


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    is_superuser: bool


class RoleOut(Schema):
    role: str
    role_label: str
    org_id: int


class MeOut(Schema):
    user: UserOut
    roles: list[RoleOut]
    person: PersonOut | None


@api.get("/me", response={200: MeOut, 401: ErrorOut}, tags=["我"], summary="当前用户")
def me(request: HttpRequest) -> Any:
    user = request.user
    grants = sorted(request.scope.grants, key=lambda g: (g.path, g.role))
    return {
        "user": {
            "id": user.pk,
            "username": user.get_username(),
            "display_name": user.get_full_name() or user.get_username(),
            "is_superuser": user.is_superuser,
        },
        "roles": [
            {"role": g.role, "role_label": str(Role(g.role).label), "org_id": g.org_id}
            for g in grants
            if g.role in Role.values
        ],
        "person": person_for_user(user=user),
    }
