"""团体时长 and the 保障基金 over the API, mounted at ``/timebank`` next to the time-bank
router.

* ``POST /teams/{team_id}/donate`` — a service team's credits to its community pool, or to a
  resident of that community (``to_person``); idempotent like ``POST /transfers``.
* ``POST /fund/{org_id}/seed`` — the org's guarantee fund is seeded from its issuance account.
* ``POST /fund/{org_id}/grant`` — the guarantee fund credits a resident of the org.

A team or org outside the caller's scope answers 404 before the body is checked (so a 404
says nothing about the body); a refusal answers 422 with the rule named, in the shape of
``POST /transfers``.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from huzhu.api.types import ObjectId, Text200
from huzhu.people.models import Person
from huzhu.timebank import services
from huzhu.timebank.api import (
    ERRORS,
    KEY_PREFIX,
    RULE_FIELDS,
    RefusalOut,
    Text64,
    TransferOut,
    transfer_out,
)
from huzhu.timebank.fund_views import fund_org_get, team_get
from huzhu.timebank.ledger import MAX_MINUTES, LedgerRefusal
from huzhu.timebank.models import Transfer, TransferKind

router = Router(tags=["时间银行"])

RESPONSES = {201: TransferOut, **ERRORS, 422: RefusalOut}
FUND_RULE_FIELDS = {
    **RULE_FIELDS,
    "team.recipient": "to_person",
    "team.community": "to_person",
    "fund.scope": "person_id",
    "fund.input": "minutes",
}


class TeamDonateIn(Schema):
    minutes: int | None = Field(None, ge=1, le=MAX_MINUTES, description="时长（分钟，必填）")
    to_person: ObjectId | None = Field(
        None, description="受赠居民 id（须为本社区居民；不填：捐给社区互助池）"
    )
    memo: Text200 = ""
    idempotency_key: Text64 = Field(
        "", description="幂等键（必填）：重复提交同一键只记账一次（每个用户各自独立）"
    )


class SeedIn(Schema):
    minutes: int | None = Field(None, ge=1, le=MAX_MINUTES, description="注资时长（分钟，必填）")
    reason: Text200 = Field("", description="注资依据（必填），如“区民政局拨付”")


class GrantIn(Schema):
    person_id: ObjectId | None = Field(
        None, description="受资助居民 id（必填，须为该组织范围内的居民）"
    )
    minutes: int | None = Field(None, ge=1, le=MAX_MINUTES, description="资助时长（分钟，必填）")
    reason: Text200 = Field("", description="资助依据（必填），如“特困供养老人”")


def _require(payload: Schema, *names: str) -> None:
    """Fields the route needs, checked after the 404 of its team or org."""
    missing = {name: _("此项为必填项") for name in names if getattr(payload, name) in (None, "")}
    if missing:
        raise ValidationError(missing)


def _refusal(exc: LedgerRefusal) -> Status:
    field = FUND_RULE_FIELDS.get(exc.rule, "__all__")
    message = exc.messages[0]
    return Status(422, {"detail": [{"field": field, "message": message}], "rule": exc.rule})


def _created(transfer: Transfer) -> Status:
    found = Transfer.objects.prefetch_related("entries").get(pk=transfer.pk)
    return Status(201, transfer_out(found, replayed=False))


def _person(person_id: int | None, rule: str, message: str) -> Person | None:
    """The person of the id, refused like a person out of reach when missing (ids reveal
    nothing)."""
    if person_id is None:
        return None
    found = Person.objects.select_related("org").filter(pk=person_id).first()
    if found is None:
        raise LedgerRefusal(rule, message)
    return found


@router.post(
    "/teams/{team_id}/donate",
    response={**RESPONSES, 200: TransferOut},
    summary="服务队捐赠团体时长（给社区互助池或本社区居民，幂等）",
)
def team_donate(request: HttpRequest, team_id: ObjectId, payload: TeamDonateIn) -> Any:
    team = team_get(scope=request.scope, team_id=team_id)
    _require(payload, "minutes", "idempotency_key")
    key = f"{KEY_PREFIX}:{request.user.pk}:{payload.idempotency_key}"
    existing = Transfer.objects.prefetch_related("entries").filter(idempotency_key=key).first()
    if existing is not None:
        out = transfer_out(existing, replayed=True)
        if existing.kind != TransferKind.DONATE or out["minutes"] != payload.minutes:
            return _refusal(
                LedgerRefusal(
                    "idempotency.mismatch",
                    _("该幂等键已用于另一笔交易，请为新交易使用新的幂等键"),
                )
            )
        return Status(200, out)
    try:
        to_person = _person(payload.to_person, "team.recipient", _("只能捐赠给本社区的居民。"))
        transfer = services.team_donate(
            actor=request.user,
            scope=request.scope,
            team=team,
            minutes=payload.minutes,
            to_person=to_person,
            memo=payload.memo.strip(),
            idempotency_key=key,
        )
    except LedgerRefusal as exc:
        return _refusal(exc)
    return _created(transfer)


@router.post(
    "/fund/{org_id}/seed",
    response=RESPONSES,
    summary="保障基金注资（从本级发行账户划入）",
)
def fund_seed(request: HttpRequest, org_id: ObjectId, payload: SeedIn) -> Any:
    org = fund_org_get(scope=request.scope, org_id=org_id)
    _require(payload, "minutes")
    try:
        transfer = services.guarantee_seed(
            actor=request.user,
            scope=request.scope,
            org=org,
            minutes=payload.minutes,
            reason=payload.reason,
        )
    except LedgerRefusal as exc:
        return _refusal(exc)
    return _created(transfer)


@router.post(
    "/fund/{org_id}/grant",
    response=RESPONSES,
    summary="保障基金资助特殊困难老年居民",
)
def fund_grant(request: HttpRequest, org_id: ObjectId, payload: GrantIn) -> Any:
    org = fund_org_get(scope=request.scope, org_id=org_id)
    _require(payload, "person_id", "minutes")
    try:
        person = _person(payload.person_id, "fund.scope", _("只能资助本组织范围内的居民。"))
        transfer = services.guarantee_grant(
            actor=request.user,
            scope=request.scope,
            org=org,
            person=person,
            minutes=payload.minutes,
            reason=payload.reason,
        )
    except LedgerRefusal as exc:
        return _refusal(exc)
    return _created(transfer)
