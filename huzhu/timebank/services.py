"""Time-bank writes: accounts, earning from confirmed service, transfers between members.

Every movement goes through ``ledger.post`` / ``ledger.post_batch`` (locks, limits,
idempotency); the rules of DOMAIN.md §5 (cap, redemption age, family, 通存通兑) are checked
here, under the same locks, and a refusal names the rule.
"""

from __future__ import annotations

import datetime as dt
from calendar import monthrange
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.audit import log_action
from huzhu.orgs.models import Org, OrgKind
from huzhu.people.models import Person
from huzhu.timebank import ledger
from huzhu.timebank.ledger import LedgerRefusal, Leg
from huzhu.timebank.models import (
    FAMILY_RELATIONS,
    Account,
    AccountKind,
    FamilyLink,
    Relation,
    Transfer,
    TransferKind,
)
from huzhu.timebank.rules import Rules, exchange_root, rules_for


def _community(org: Org) -> Org:
    """A grid's community (accounts and rules hang on communities)."""
    if org.kind == OrgKind.GRID and org.parent_id:
        return Org.objects.get(pk=org.parent_id)
    return org


def account_for_person(person: Person) -> Account:
    """The person's account, opened on first use with the credit limit of their rules."""
    found = Account.objects.filter(person=person).select_related("org").first()
    if found is not None:
        return found
    org = _community(person.org)
    try:
        with transaction.atomic():
            return Account.objects.create(
                kind=AccountKind.PERSON,
                person=person,
                org=org,
                credit_limit=rules_for(org).credit_limit_minutes,
            )
    except IntegrityError:
        return Account.objects.get(person=person)


def accounts_for_people(*, person_ids: Iterable[int]) -> dict[int, Account]:
    """The accounts of many people at once (a shift's volunteers): the missing ones are
    opened in one bulk insert, each in the person's community with its credit limit."""
    wanted = set(person_ids)
    found = {a.person_id: a for a in Account.objects.filter(person_id__in=wanted)}
    missing = wanted - set(found)
    if missing:
        people = list(Person.objects.filter(pk__in=missing).select_related("org"))
        home = {p.pk: (p.org.parent_id if p.org.kind == OrgKind.GRID else p.org_id) for p in people}
        communities = {o.pk: o for o in Org.objects.filter(pk__in=set(home.values()))}
        limits = {pk: rules_for(org).credit_limit_minutes for pk, org in communities.items()}
        Account.objects.bulk_create(
            [
                Account(
                    kind=AccountKind.PERSON,
                    person_id=pk,
                    org_id=org_id,
                    credit_limit=limits[org_id],
                )
                for pk, org_id in home.items()
            ],
            ignore_conflicts=True,
        )
        found.update({a.person_id: a for a in Account.objects.filter(person_id__in=missing)})
    return found


def org_account(org: Org, kind: str) -> Account:
    """An org's issuance, pool, guarantee or team account, opened on first use."""
    found = Account.objects.filter(org=org, kind=kind).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Account.objects.create(kind=kind, org=org)
    except IntegrityError:
        return Account.objects.get(org=org, kind=kind)


# --- earning --------------------------------------------------------------------------------


def earn_key(record_id: int, minutes: int, version: int = 0) -> str:
    return f"earn:{record_id}:{version}:{minutes}"


def credit_records(*, record_ids: Iterable[int], actor: Any = None) -> int:
    """Confirmed service records credit their volunteers from the recording org's issuance
    account, in one batch; a record already credited is skipped (its key is taken).
    Returns how many transfers were posted."""
    from huzhu.activities.models import RecordSource, RecordStatus, ServiceRecord

    ids = list(record_ids)
    # A record credited before is skipped even when corrected since (its key names the old
    # minutes; the correction posted the difference).
    credited = Transfer.objects.filter(record_id__in=ids, kind=TransferKind.EARN)
    rows = list(
        ServiceRecord.objects.filter(pk__in=ids, status=RecordStatus.CONFIRMED)
        .exclude(pk__in=credited.values("record_id"))
        .exclude(source=RecordSource.NEED)  # a need's help is paid by its requester or pool
        .values_list(
            "pk",
            "minutes",
            "org_id",
            "category__name",
            "volunteer__person_id",
            "activity__credit_team",
        )
    )
    if not rows:
        return 0
    orgs = {o.pk: o for o in Org.objects.filter(pk__in={r[2] for r in rows})}
    person_accounts = accounts_for_people(
        person_ids={r[4] for r in rows if not (r[5] and orgs[r[2]].kind == OrgKind.TEAM)}
    )
    issuance = {org_id: org_account(org, AccountKind.ISSUANCE) for org_id, org in orgs.items()}
    rules: dict[int, Rules] = {}
    items = []
    for record_id, minutes, org_id, category, person_id, to_team in rows:
        org = orgs[org_id]
        if org_id not in rules:
            rules[org_id] = rules_for(org)
        rule = rules[org_id]
        credit = rule.earn_minutes(category, minutes)
        if credit <= 0:
            continue
        receiver = (
            org_account(org, AccountKind.TEAM)
            if to_team and org.kind == OrgKind.TEAM
            else person_accounts[person_id]
        )
        items.append(
            ledger.BatchItem(
                debit_account_id=issuance[org_id].pk,
                credit_account_id=receiver.pk,
                minutes=credit,
                idempotency_key=earn_key(record_id, minutes),
                memo=_("服务入账"),
                record_id=record_id,
            )
        )
    return ledger.post_batch(kind=TransferKind.EARN, items=items, actor=actor)


def record_corrected(*, record: Any, old_minutes: int, actor: Any = None) -> Transfer | None:
    """A corrected record posts the difference of its credit (more or less)."""
    if record.minutes == old_minutes:
        return None
    if not Transfer.objects.filter(record_id=record.pk, kind=TransferKind.EARN).exists():
        return None
    org = record.org
    rule = rules_for(org)
    diff = rule.earn_minutes(record.category.name, record.minutes) - rule.earn_minutes(
        record.category.name, old_minutes
    )
    if diff == 0:
        return None
    issuance = org_account(org, AccountKind.ISSUANCE)
    team_credit = record.activity is not None and record.activity.credit_team
    receiver = (
        org_account(org, AccountKind.TEAM)
        if team_credit and org.kind == OrgKind.TEAM
        else account_for_person(record.volunteer.person)
    )
    return ledger.post(
        kind=TransferKind.ADJUST,
        legs=[Leg(issuance.pk, -diff), Leg(receiver.pk, diff)],
        actor=actor,
        idempotency_key=f"correct:{record.pk}:{old_minutes}:{record.minutes}",
        memo=_("服务记录更正"),
        record=record,
    )


def record_revoked(*, record: Any, actor: Any = None) -> int:
    """A revoked record's credits go back: every earning and correction posted for it is
    reversed (once). Refused with the rule named if the credits were already spent."""
    posted = Transfer.objects.filter(
        record_id=record.pk,
        kind__in=(TransferKind.EARN, TransferKind.ADJUST, TransferKind.SPEND),
    ).exclude(reversed_by__isnull=False)
    count = 0
    for transfer in posted.order_by("pk"):
        try:
            ledger.reverse(transfer=transfer, actor=actor, memo=_("服务记录撤销"))
        except LedgerRefusal as refusal:
            raise LedgerRefusal(
                "revoke.spent",
                _("该记录入账的时间币已被使用，无法冲正；请先办理调账。（%(m)s）")
                % {"m": refusal.messages[0]},
            ) from refusal
        count += 1
    return count


# --- transfers between members --------------------------------------------------------------


def _cap_check(rules: Rules, account: Account, incoming: int) -> None:
    if rules.balance_cap_minutes and account.balance + incoming > rules.balance_cap_minutes:
        raise LedgerRefusal(
            "balance.cap",
            _("超过存储上限：账户最多可存 %(cap)s 小时。")
            % {"cap": ledger.hours(rules.balance_cap_minutes)},
        )


def relation_between(sender: Person, receiver: Person) -> str | None:
    """The verified relation of ``receiver`` to ``sender`` (declared either way), or None."""
    link = (
        FamilyLink.objects.filter(revoked_at__isnull=True, verified_at__isnull=False)
        .filter(person=sender, relative=receiver)
        .first()
    )
    if link is not None:
        return link.relation
    back = (
        FamilyLink.objects.filter(revoked_at__isnull=True, verified_at__isnull=False)
        .filter(person=receiver, relative=sender)
        .first()
    )
    return back.relation if back is not None else None


def transfer_to_family(
    *,
    actor: Any,
    sender: Person,
    receiver: Person,
    minutes: int,
    memo: str = "",
    idempotency_key: str = "",
) -> Transfer:
    """转赠: to a verified family member (spouse, direct relatives; friends if the rules of
    the sender's community allow)."""
    if minutes <= 0:
        raise LedgerRefusal("amount.positive", _("转赠时长必须大于零。"))
    if sender.pk == receiver.pk:
        raise LedgerRefusal("transfer.self", _("不能转赠给自己。"))
    with transaction.atomic():  # a refusal also undoes an account opened for it
        return _transfer_to_family(actor, sender, receiver, minutes, memo, idempotency_key)


def _transfer_to_family(
    actor: Any, sender: Person, receiver: Person, minutes: int, memo: str, idempotency_key: str
) -> Transfer:
    source = account_for_person(sender)
    target = account_for_person(receiver)
    rules = rules_for(source.org)
    relation = relation_between(sender, receiver)
    allowed = set(FAMILY_RELATIONS) | (
        {Relation.FRIEND} if rules.family_includes_friends else set()
    )
    if relation is None or relation not in allowed:
        raise LedgerRefusal(
            "transfer.relation",
            _("只能转赠给经社区核实的家庭成员（配偶、直系亲属）。"),
        )
    root = exchange_root(source.org, rules.exchange_scope)
    if not target.org.path.startswith(root):
        raise LedgerRefusal("transfer.scope", _("对方不在通存通兑范围内。"))
    target_rules = rules_for(target.org)

    def check(accounts: dict[int, Account]) -> None:
        _cap_check(target_rules, accounts[target.pk], minutes)

    transfer = ledger.post(
        kind=TransferKind.FAMILY,
        legs=[Leg(source.pk, -minutes), Leg(target.pk, minutes)],
        actor=actor,
        idempotency_key=idempotency_key,
        memo=memo or _("转赠家人"),
        check=check,
    )
    log_action(actor, "timebank.transfer", source, {"to": target.pk, "minutes": minutes})
    return transfer


def donate(
    *, actor: Any, sender: Person, minutes: int, memo: str = "", idempotency_key: str = ""
) -> Transfer:
    """捐赠 to the community pool (which pays for 公益 help)."""
    if minutes <= 0:
        raise LedgerRefusal("amount.positive", _("捐赠时长必须大于零。"))
    source = account_for_person(sender)
    pool = org_account(source.org, AccountKind.POOL)
    transfer = ledger.post(
        kind=TransferKind.DONATE,
        legs=[Leg(source.pk, -minutes), Leg(pool.pk, minutes)],
        actor=actor,
        idempotency_key=idempotency_key,
        memo=memo or _("捐赠给社区互助池"),
    )
    log_action(actor, "timebank.donate", source, {"minutes": minutes})
    return transfer


def pay_for_help(
    *,
    actor: Any,
    payer: Person,
    helper: Person,
    minutes: int,
    memo: str = "",
    idempotency_key: str = "",
    on_behalf: bool = False,
    consent: str = "",
    record: Any = None,
) -> Transfer:
    """支付: a resident pays a volunteer for help received — or a worker pays on an elderly
    resident's behalf (代办), with the resident's consent recorded. ``record`` links the
    payment to the service record it pays for (a need's), so revoking that record refunds it."""
    if minutes <= 0:
        raise LedgerRefusal("amount.positive", _("支付时长必须大于零。"))
    if on_behalf and not consent.strip():
        raise LedgerRefusal("spend.consent", _("代办支付须记录本人同意（如“本人电话同意”）。"))
    if payer.pk == helper.pk:
        raise LedgerRefusal("transfer.self", _("不能向自己支付。"))
    with transaction.atomic():  # a refusal also undoes an account opened for it
        return _pay_for_help(
            actor, payer, helper, minutes, memo, idempotency_key, on_behalf, consent, record
        )


def _pay_for_help(
    actor: Any,
    payer: Person,
    helper: Person,
    minutes: int,
    memo: str,
    idempotency_key: str,
    on_behalf: bool,
    consent: str,
    record: Any = None,
) -> Transfer:
    source = account_for_person(payer)
    target = account_for_person(helper)
    rules = rules_for(source.org)
    age = payer.age_on(timezone.localdate())
    if rules.min_redeem_age and age < rules.min_redeem_age:
        raise LedgerRefusal(
            "spend.age",
            _("年满 %(age)d 周岁方可兑换服务。") % {"age": rules.min_redeem_age},
        )
    root = exchange_root(source.org, rules.exchange_scope)
    if not target.org.path.startswith(root):
        raise LedgerRefusal("spend.scope", _("服务提供者不在通存通兑范围内。"))
    target_rules = rules_for(target.org)

    def check(accounts: dict[int, Account]) -> None:
        _cap_check(target_rules, accounts[target.pk], minutes)

    transfer = ledger.post(
        kind=TransferKind.SPEND,
        legs=[Leg(source.pk, -minutes), Leg(target.pk, minutes)],
        actor=actor,
        idempotency_key=idempotency_key,
        memo=memo or _("支付服务"),
        on_behalf=on_behalf,
        consent=consent.strip()[:200],
        check=check,
        record=record,
    )
    log_action(actor, "timebank.spend", source, {"to": target.pk, "minutes": minutes})
    return transfer


def _pool_covers(pool: Account, minutes: int) -> None:
    if pool.balance + pool.credit_limit < minutes:
        raise LedgerRefusal(
            "pool.balance",
            _("社区互助池余额不足：现有 %(have)s 小时，需要 %(need)s 小时。")
            % {"have": ledger.hours(pool.balance), "need": ledger.hours(minutes)},
        )


def pool_pays_for_help(
    *,
    actor: Any,
    org: Org,
    helper: Person,
    minutes: int,
    memo: str = "",
    idempotency_key: str = "",
    record: Any = None,
) -> Transfer:
    """公益 help: the community pool (fed by donations) pays the volunteer who helped."""
    if minutes <= 0:
        raise LedgerRefusal("amount.positive", _("支付时长必须大于零。"))
    with transaction.atomic():
        pool = org_account(_community(org), AccountKind.POOL)
        _pool_covers(pool, minutes)  # the clear message; the ledger re-checks under its lock
        target = account_for_person(helper)
        target_rules = rules_for(target.org)

        def check(accounts: dict[int, Account]) -> None:
            _cap_check(target_rules, accounts[target.pk], minutes)

        transfer = ledger.post(
            kind=TransferKind.SPEND,
            legs=[Leg(pool.pk, -minutes), Leg(target.pk, minutes)],
            actor=actor,
            idempotency_key=idempotency_key,
            memo=memo or _("互助池支付公益服务"),
            check=check,
            record=record,
        )
        log_action(actor, "timebank.pool_spend", pool, {"to": target.pk, "minutes": minutes})
    return transfer


# --- group (team) time ------------------------------------------------------------------


def team_donate(
    *,
    actor: Any,
    scope: Any,
    team: Org,
    minutes: int,
    to_person: Person | None = None,
    memo: str = "",
    idempotency_key: str = "",
) -> Transfer:
    """团体时长 may only be donated: to the community pool, or to a named resident (e.g. a
    vulnerable elderly person) of the same community. The team's leader or a worker does it."""
    from django.core.exceptions import PermissionDenied

    from huzhu.orgs.roles import Perm

    if team.kind != OrgKind.TEAM:
        raise LedgerRefusal("team.kind", _("只有服务队有团队时间币。"))
    if scope is None or not (
        scope.can(Perm.TEAM_MANAGE, team) or scope.can(Perm.TIMEBANK_OPERATE, team)
    ):
        raise PermissionDenied(_("没有管理该服务队时间币的权限。"))
    if minutes <= 0:
        raise LedgerRefusal("amount.positive", _("捐赠时长必须大于零。"))
    community = (
        Org.objects.ancestors_of(team).filter(kind=OrgKind.COMMUNITY).order_by("-depth").first()
    )
    if community is None:
        raise LedgerRefusal("team.community", _("该服务队不属于任何社区。"))
    with transaction.atomic():
        source = org_account(team, AccountKind.TEAM)
        if to_person is None:
            target = org_account(community, AccountKind.POOL)
        else:
            if not to_person.org.path.startswith(community.path):
                raise LedgerRefusal("team.recipient", _("只能捐赠给本社区的居民。"))
            target = account_for_person(to_person)
        target_rules = rules_for(target.org)

        def check(accounts: dict[int, Account]) -> None:
            if target.kind == AccountKind.PERSON:
                _cap_check(target_rules, accounts[target.pk], minutes)

        transfer = ledger.post(
            kind=TransferKind.DONATE,
            legs=[Leg(source.pk, -minutes), Leg(target.pk, minutes)],
            actor=actor,
            idempotency_key=idempotency_key,
            memo=memo or _("服务队捐赠团体时长"),
            check=check,
        )
    log_action(actor, "timebank.team_donate", source, {"minutes": minutes, "to": target.pk})
    return transfer


# --- the guarantee fund ---------------------------------------------------------------------


def _require_operate(scope: Any, org: Org) -> None:
    from django.core.exceptions import PermissionDenied

    from huzhu.orgs.roles import Perm

    if scope is None or not scope.can(Perm.TIMEBANK_OPERATE, org):
        raise PermissionDenied(_("没有在该组织办理时间银行业务的权限。"))


def guarantee_seed(
    *, actor: Any, scope: Any, org: Org, minutes: int, reason: str, idempotency_key: str = ""
) -> Transfer:
    """The government seeds an org's guarantee fund (保障基金) from its issuance account."""
    _require_operate(scope, org)
    if minutes <= 0 or not reason.strip():
        raise LedgerRefusal("fund.input", _("请填写大于零的时长和注资依据。"))
    transfer = ledger.post(
        kind=TransferKind.GRANT,
        legs=[
            Leg(org_account(org, AccountKind.ISSUANCE).pk, -minutes),
            Leg(org_account(org, AccountKind.GUARANTEE).pk, minutes),
        ],
        actor=actor,
        idempotency_key=idempotency_key,
        memo=_("保障基金注资：%(r)s") % {"r": reason.strip()},
    )
    log_action(
        actor, "timebank.fund_seed", org_account(org, AccountKind.GUARANTEE), {"minutes": minutes}
    )
    return transfer


def guarantee_grant(
    *,
    actor: Any,
    scope: Any,
    org: Org,
    person: Person,
    minutes: int,
    reason: str,
    idempotency_key: str = "",
) -> Transfer:
    """The guarantee fund credits an elderly resident in special difficulty (the reason,
    e.g. 特困供养, is kept in the memo)."""
    _require_operate(scope, org)
    if not person.org.path.startswith(org.path):
        raise LedgerRefusal("fund.scope", _("只能资助本组织范围内的居民。"))
    if minutes <= 0 or not reason.strip():
        raise LedgerRefusal("fund.input", _("请填写大于零的时长和资助依据。"))
    with transaction.atomic():
        fund = org_account(org, AccountKind.GUARANTEE)
        target = account_for_person(person)
        target_rules = rules_for(target.org)

        def check(accounts: dict[int, Account]) -> None:
            _cap_check(target_rules, accounts[target.pk], minutes)

        transfer = ledger.post(
            kind=TransferKind.GRANT,
            legs=[Leg(fund.pk, -minutes), Leg(target.pk, minutes)],
            actor=actor,
            idempotency_key=idempotency_key,
            memo=_("保障基金资助：%(r)s") % {"r": reason.strip()},
            check=check,
        )
    log_action(actor, "timebank.fund_grant", target, {"minutes": minutes})
    return transfer


# --- expiry (optional policy) ----------------------------------------------------------------


def _months_before(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return day.replace(year=year, month=month, day=min(day.day, monthrange(year, month)[1]))


def expire_credits(*, today: dt.date) -> int:
    """Where the rules set an expiry of N months, credits are spent oldest first, so a
    balance may not exceed what the account received in the last N months: the excess goes
    back to the issuing org (an ``expire`` transfer, once per account and day). Returns how
    many accounts lost credits."""
    from django.db.models import Sum

    from huzhu.timebank.models import Entry

    expired = 0
    rules_by_org: dict[int, Rules] = {}
    accounts = Account.objects.filter(kind=AccountKind.PERSON, balance__gt=0).select_related("org")
    for account in accounts.iterator():
        if account.org_id not in rules_by_org:
            rules_by_org[account.org_id] = rules_for(account.org)
        rules = rules_by_org[account.org_id]
        if not rules.expiry_months:
            continue
        cutoff = timezone.make_aware(
            dt.datetime.combine(_months_before(today, rules.expiry_months), dt.time.min)
        )
        recent = (
            Entry.objects.filter(account=account, amount__gt=0, created_at__gte=cutoff)
            .exclude(transfer__kind=TransferKind.REVERSE)
            .aggregate(total=Sum("amount"))["total"]
            or 0
        )
        excess = account.balance - recent
        key = f"expire:{account.pk}:{today.isoformat()}"
        if excess <= 0 or Transfer.objects.filter(idempotency_key=key).exists():
            continue  # (a second run on the same day expires nothing more)
        issuance = org_account(account.org, AccountKind.ISSUANCE)
        ledger.post(
            kind=TransferKind.EXPIRE,
            legs=[Leg(account.pk, -excess), Leg(issuance.pk, excess)],
            idempotency_key=key,
            memo=_("超过 %(n)d 个月未使用的时间币到期") % {"n": rules.expiry_months},
        )
        expired += 1
    return expired
