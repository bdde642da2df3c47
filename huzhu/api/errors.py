"""One error shape for the whole API, in Chinese, and never a 500 for bad input.

* ``{"detail": "…"}`` for 400, 401, 403, 404, 409;
* ``{"detail": [{"field": "id_number", "message": "…"}, …]}`` for 422, whether the error
  came from a service (Django ``ValidationError``) or from ninja's input validation.
  A message that belongs to no field has ``"field": "__all__"`` (Django's convention).

A record outside the caller's scope answers exactly like a missing one: 404 ``未找到``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from huzhu.api.services import InvalidToken
from huzhu.desk.ratelimit import RateLimited

if TYPE_CHECKING:
    from ninja import NinjaAPI

# Services name model fields; the API's inputs name ids. One map, used for every router.
FIELD_ALIASES = {"org": "org_id", "parent": "parent_id", "tags": "tag_ids"}

# ninja's parameter sources and the names it gives to whole-body / whole-query models.
_LOC_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}
_LOC_CONTAINERS = {"payload", "filters", "data"}


class CsrfFailed(HttpError):
    def __init__(self) -> None:
        super().__init__(403, _("CSRF校验失败：请刷新页面后重试，或改用令牌访问"))


def _status_message(status: int) -> str:
    return {
        400: _("请求格式不正确（请求体应为有效的JSON）"),
        401: _("未登录：请在请求头中提供 Authorization: Bearer <令牌>"),
        403: _("您没有权限执行此操作"),
        404: _("未找到"),
        405: _("不支持该请求方法"),
        409: _("与已有数据冲突，请刷新后重试"),
        429: _("请求过于频繁，请稍后再试"),
    }.get(status, _("请求无法处理"))


def field_errors(exc: DjangoValidationError) -> list[dict[str, str]]:
    if hasattr(exc, "error_dict"):
        items = exc.message_dict.items()
    else:
        items = [(NON_FIELD_ERRORS, exc.messages)]
    return [
        {"field": FIELD_ALIASES.get(field, field), "message": message}
        for field, messages in items
        for message in messages
    ]


def _pydantic_message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _("此项为必填项")
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return _("应为整数")
    if kind in {"float_parsing", "float_type"}:
        return _("应为数字")
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        return _("超出允许的范围")
    if kind == "string_too_long":
        return _("不能超过%(n)s个字符") % {"n": ctx.get("max_length", "")}
    if kind == "string_too_short":
        return _("至少需要%(n)s个字符") % {"n": ctx.get("min_length", "")}
    if kind == "string_type":
        return _("应为文本")
    if kind in {"bool_parsing", "bool_type"}:
        return _("应为 true 或 false")
    if kind in {"enum", "literal_error"}:
        return _("取值无效，可选值：%(v)s") % {
            "v": str(ctx.get("expected", "")).replace(" or ", ", ")
        }
    if kind in {"list_type", "tuple_type", "set_type"}:
        return _("应为列表")
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return _("应为JSON对象")
    if kind == "json_invalid":
        return _("不是有效的JSON")
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return str(error.get("msg", _("输入无效")))


def _pydantic_field(loc: Any) -> str:
    parts = [str(p) for p in (loc or ()) if not isinstance(p, int)]
    if parts and parts[0] in _LOC_SOURCES:
        parts = parts[1:]
    if parts and parts[0] in _LOC_CONTAINERS:
        parts = parts[1:]
    return parts[-1] if parts else NON_FIELD_ERRORS


def install(api: NinjaAPI) -> None:
    """Register the handlers on ``api`` (replacing ninja's English defaults)."""

    def detail(request: HttpRequest, status: int, message: str) -> HttpResponse:
        return api.create_response(request, {"detail": message}, status=status)

    @api.exception_handler(DjangoValidationError)
    def on_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        return api.create_response(request, {"detail": field_errors(exc)}, status=422)

    @api.exception_handler(NinjaValidationError)
    def on_input(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        errors = [
            {
                "field": _pydantic_field(error.get("loc")),
                "message": _pydantic_message(error),
                "loc": [str(p) for p in error.get("loc", ())],
                "type": error.get("type", ""),
            }
            for error in exc.errors
        ]
        return api.create_response(request, {"detail": errors}, status=422)

    @api.exception_handler(RateLimited)
    def on_rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
        # A flood refused by a service (a ValidationError subclass): 429 with its message.
        return detail(request, 429, exc.messages[0])

    @api.exception_handler(PermissionDenied)
    def on_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return detail(request, 403, str(exc) or _status_message(403))

    @api.exception_handler(Http404)
    def on_missing(request: HttpRequest, exc: Http404) -> HttpResponse:
        return detail(request, 404, _status_message(404))

    @api.exception_handler(InvalidToken)
    def on_bad_token(request: HttpRequest, exc: InvalidToken) -> HttpResponse:
        response = detail(request, 401, exc.message)
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response

    @api.exception_handler(AuthenticationError)
    def on_no_auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = detail(request, 401, _status_message(401))
        response["WWW-Authenticate"] = "Bearer"
        return response

    @api.exception_handler(CsrfFailed)
    def on_csrf(request: HttpRequest, exc: CsrfFailed) -> HttpResponse:
        return detail(request, 403, exc.message)

    @api.exception_handler(HttpError)
    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        # ninja's own messages are English ("Cannot parse request body"): say it in Chinese.
        return detail(request, exc.status_code, _status_message(exc.status_code))

    @api.exception_handler(IntegrityError)
    def on_conflict(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
        # A concurrent write won a uniqueness race the service had already checked for.
        return detail(request, 409, _status_message(409))

    @api.exception_handler(DataError)
    def on_data_error(request: HttpRequest, exc: DataError) -> HttpResponse:
        errors = [{"field": NON_FIELD_ERRORS, "message": _("输入的数据超出允许的范围")}]
        return api.create_response(request, {"detail": errors}, status=422)
