"""The time-bank rules in force for an org: the nearest policy up the tree, field by field,
then the deployment's settings (DOMAIN.md §5)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from huzhu.orgs.models import Org, OrgKind
from huzhu.timebank.models import ExchangeScope, Policy

RULE_FIELDS = (
    "credit_limit_minutes",
    "balance_cap_minutes",
    "min_redeem_age",
    "family_includes_friends",
    "expiry_months",
    "exchange_scope",
)
SCOPE_KINDS = {
    ExchangeScope.COMMUNITY: OrgKind.COMMUNITY,
    ExchangeScope.STREET: OrgKind.STREET,
    ExchangeScope.DISTRICT: OrgKind.DISTRICT,
    ExchangeScope.CITY: OrgKind.CITY,
}


@dataclass(frozen=True)
class Rules:
    credit_limit_minutes: int
    balance_cap_minutes: int  # 0: no cap
    min_redeem_age: int  # 0: any age
    family_includes_friends: bool
    expiry_months: int  # 0: credits never expire
    exchange_scope: str
    earn_rates: dict[str, int] = field(default_factory=dict)  # category → minutes per hour

    def earn_minutes(self, category: str, service_minutes: int) -> int:
        """Credit for ``service_minutes`` of service in ``category`` (1 h = 60 min unless a
        rate is set for the category)."""
        per_hour = self.earn_rates.get(category, 60)
        return service_minutes * per_hour // 60


def _defaults() -> dict[str, object]:
    return {
        "credit_limit_minutes": settings.HUZHU_TIMEBANK_CREDIT_LIMIT_MINUTES,
        "balance_cap_minutes": settings.HUZHU_TIMEBANK_BALANCE_CAP_MINUTES,
        "min_redeem_age": settings.HUZHU_TIMEBANK_MIN_REDEEM_AGE,
        "family_includes_friends": settings.HUZHU_TIMEBANK_FAMILY_INCLUDES_FRIENDS,
        "expiry_months": settings.HUZHU_TIMEBANK_EXPIRY_MONTHS,
        "exchange_scope": settings.HUZHU_TIMEBANK_EXCHANGE_SCOPE,
    }


def rules_for(org: Org) -> Rules:
    """Rules for ``org``: each field from the deepest policy on the path that sets it."""
    ids = [int(part) for part in org.path.strip("/").split("/") if part]
    policies = {p.org_id: p for p in Policy.objects.filter(org_id__in=ids)}
    values = _defaults()
    rates: dict[str, int] = {}
    for org_id in ids:  # root first, so deeper policies win
        policy = policies.get(org_id)
        if policy is None:
            continue
        for name in RULE_FIELDS:
            value = getattr(policy, name)
            if value is not None and value != "":
                values[name] = value
        rates.update({str(k): int(v) for k, v in (policy.earn_rates or {}).items()})
    return Rules(earn_rates=rates, **values)  # type: ignore[arg-type]


def exchange_root(org: Org, scope: str) -> str:
    """The path prefix inside which credits of ``org`` may be spent (通存通兑)."""
    kind = SCOPE_KINDS.get(scope, OrgKind.CITY)
    ancestors = Org.objects.ancestors_of(org).filter(kind=kind).order_by("-depth")
    found = ancestors.first()
    if found is None:
        return "/" if kind == OrgKind.CITY else org.path
    return found.path
