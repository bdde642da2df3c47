"""The time bank ledger (DESIGN.md §4, DOMAIN.md §5).

Double entry in integer minutes: every ``Transfer`` has two or more ``Entry`` rows that sum
to zero; an account's stored ``balance`` always equals the sum of its entries (``huzhu
ledger verify`` checks it). Entries are never updated or deleted; a mistake is corrected by
a reversing transfer. Issuance accounts are where time credits come from: their balance is
minus what the org has issued.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from huzhu.orgs.models import Org
from huzhu.orgs.scope import ScopedQuerySet
from huzhu.people.models import Person


class AccountKind(models.TextChoices):
    PERSON = "person", _("个人账户")
    TEAM = "team", _("团队账户")
    POOL = "pool", _("社区互助池")
    ISSUANCE = "issuance", _("发行账户")
    GUARANTEE = "guarantee", _("保障基金")


class Account(models.Model):
    kind = models.CharField(_("账户类型"), max_length=10, choices=AccountKind.choices)
    # A person's account belongs to the person; the others to an org (team, community …).
    person = models.OneToOneField(
        Person,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="timebank_account",
        verbose_name=_("居民"),
    )
    # Scope: the person's community, or the owning org.
    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="timebank_accounts", verbose_name=_("所属组织")
    )
    balance = models.BigIntegerField(_("余额（分钟）"), default=0)
    # How far below zero the balance may go (minutes ≥ 0): the credit limit in force,
    # copied from the rules when the account is opened or the rules change; the CHECK
    # constraint below is the backstop of the checks made under the row lock.
    credit_limit = models.PositiveIntegerField(_("透支额度（分钟）"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("时间银行账户")
        verbose_name_plural = _("时间银行账户")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="issuance") | Q(balance__gte=-F("credit_limit")),
                name="account_balance_within_credit_limit",
            ),
            models.CheckConstraint(
                condition=Q(kind="person", person__isnull=False)
                | (~Q(kind="person") & Q(person__isnull=True)),
                name="account_person_iff_person_kind",
            ),
            models.UniqueConstraint(
                fields=["org", "kind"],
                condition=~Q(kind="person"),
                name="account_one_org_account_per_kind",
            ),
        ]

    def __str__(self) -> str:
        if self.person_id:
            return f"{self.person.name}（{self.get_kind_display()}）"
        return f"{self.org.name}（{self.get_kind_display()}）"

    @property
    def audit_org(self) -> Org:
        return self.org


class TransferKind(models.TextChoices):
    EARN = "earn", _("服务入账")
    SPEND = "spend", _("支付服务")
    FAMILY = "family", _("转赠家人")
    DONATE = "donate", _("捐赠")
    EXCHANGE = "exchange", _("爱心超市兑换")
    ADJUST = "adjust", _("调账")
    EXPIRE = "expire", _("过期")
    REVERSE = "reverse", _("冲正")
    GRANT = "grant", _("保障基金发放")


class Transfer(models.Model):
    kind = models.CharField(_("类型"), max_length=10, choices=TransferKind.choices)
    idempotency_key = models.CharField(_("幂等键"), max_length=100, unique=True)
    memo = models.CharField(_("摘要"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("经办人"),
    )
    # 代办: a worker paid on a resident's behalf, with the resident's consent recorded.
    on_behalf = models.BooleanField(_("代办"), default=False)
    consent = models.CharField(_("本人同意记录"), max_length=200, blank=True)
    # The second person of a two-person adjustment.
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("复核人"),
    )
    reversal_of = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        verbose_name=_("冲正的交易"),
    )
    # The service record an earning came from (one earning per record and version).
    record = models.ForeignKey(
        "activities.ServiceRecord",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers",
        db_index=False,
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("时间银行交易")
        verbose_name_plural = _("时间银行交易")
        ordering = ["-id"]
        indexes = [models.Index(fields=["record", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class Entry(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount = models.BigIntegerField(_("金额（分钟）"))
    # The account's balance right after this entry: statements show it without summing.
    balance_after = models.BigIntegerField(_("余额（分钟）"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("分录")
        verbose_name_plural = _("分录")
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "id"])]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount:+d}"


class ExchangeScope(models.TextChoices):
    """通存通兑: where credits earned in one community may be spent."""

    COMMUNITY = "community", _("本社区")
    STREET = "street", _("本街道")
    DISTRICT = "district", _("本区")
    CITY = "city", _("全市")


class Policy(models.Model):
    """Time-bank rules for an org's subtree. An empty field inherits from the nearest
    ancestor with a policy, and finally from the deployment's settings."""

    org = models.OneToOneField(
        Org, on_delete=models.CASCADE, related_name="timebank_policy", verbose_name=_("组织")
    )
    credit_limit_minutes = models.PositiveIntegerField(_("透支额度（分钟）"), null=True, blank=True)
    balance_cap_minutes = models.PositiveIntegerField(_("存储上限（分钟）"), null=True, blank=True)
    min_redeem_age = models.PositiveSmallIntegerField(_("最低兑换年龄"), null=True, blank=True)
    family_includes_friends = models.BooleanField(_("可转赠亲友"), null=True, blank=True)
    expiry_months = models.PositiveSmallIntegerField(_("有效期（月）"), null=True, blank=True)
    exchange_scope = models.CharField(
        _("通存通兑范围"), max_length=10, choices=ExchangeScope.choices, blank=True
    )
    # Minutes of credit per hour of service, by service category name (default 60: 1 h = 1).
    earn_rates = models.JSONField(_("各类别入账比例"), default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("时间银行规则")
        verbose_name_plural = _("时间银行规则")

    def __str__(self) -> str:
        return str(self.org)

    @property
    def audit_org(self) -> Org:
        return self.org


class Relation(models.TextChoices):
    SPOUSE = "spouse", _("配偶")
    PARENT = "parent", _("父母")
    CHILD = "child", _("子女")
    GRANDPARENT = "grandparent", _("祖父母、外祖父母")
    GRANDCHILD = "grandchild", _("孙子女、外孙子女")
    SIBLING = "sibling", _("兄弟姐妹")
    FRIEND = "friend", _("亲友")


# Spouse and direct relatives (直系亲属) count as family by default (DOMAIN.md §5).
FAMILY_RELATIONS = frozenset(
    {
        Relation.SPOUSE,
        Relation.PARENT,
        Relation.CHILD,
        Relation.GRANDPARENT,
        Relation.GRANDCHILD,
    }
)


class FamilyLink(models.Model):
    """A declared relation from ``person`` to ``relative`` (``relation``: what the relative
    is to the person), verified by a worker before transfers may use it."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="family_links")
    relative = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    relation = models.CharField(_("关系"), max_length=12, choices=Relation.choices)
    declared_at = models.DateTimeField(_("申报时间"), auto_now_add=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_at = models.DateTimeField(_("核实时间"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    evidence = models.CharField(_("核实依据"), max_length=200, blank=True)
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "person__org__path"

    class Meta:
        verbose_name = _("亲属关系")
        verbose_name_plural = _("亲属关系")
        constraints = [
            models.UniqueConstraint(
                fields=["person", "relative"],
                condition=Q(revoked_at__isnull=True),
                name="family_link_once",
            ),
            models.CheckConstraint(condition=~Q(person=F("relative")), name="family_link_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.person} → {self.relative}（{self.get_relation_display()}）"

    @property
    def audit_org(self) -> Org:
        return self.person.org


class ExchangeItem(models.Model):
    """An item of a community's exchange catalogue (爱心超市), priced in time credits."""

    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="exchange_items", verbose_name=_("所属组织")
    )
    name = models.CharField(_("物品名称"), max_length=100)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    price_minutes = models.PositiveIntegerField(_("价格（分钟）"))
    stock = models.PositiveIntegerField(_("库存"), default=0)
    is_active = models.BooleanField(_("上架"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("爱心超市物品")
        verbose_name_plural = _("爱心超市物品")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price_minutes__gte=1), name="exchange_price_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_org(self) -> Org:
        return self.org


class Redemption(models.Model):
    """One redemption at the counter: the member's credits go to the community pool, the
    stock goes down, a receipt number is given."""

    receipt_number = models.CharField(_("小票号"), max_length=30, unique=True)
    item = models.ForeignKey(ExchangeItem, on_delete=models.PROTECT, related_name="redemptions")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="redemptions")
    quantity = models.PositiveIntegerField(_("数量"))
    total_minutes = models.PositiveIntegerField(_("合计（分钟）"))
    transfer = models.OneToOneField(Transfer, on_delete=models.PROTECT, related_name="redemption")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "item__org__path"

    class Meta:
        verbose_name = _("兑换记录")
        verbose_name_plural = _("兑换记录")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.receipt_number

    @property
    def audit_org(self) -> Org:
        return self.item.org


class AdjustmentStatus(models.TextChoices):
    PENDING = "pending", _("待复核")
    APPROVED = "approved", _("已入账")
    REJECTED = "rejected", _("已驳回")
    WITHDRAWN = "withdrawn", _("已撤回")


class Adjustment(models.Model):
    """A correction asked for by one person and approved by another (two-person rule)
    before it is posted. Until then another person may reject it (驳回) or the requester
    withdraw it (撤回): ``rejected_by`` is then set (the requester for a withdrawal) and
    the request is closed for good."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="adjustments")
    minutes = models.BigIntegerField(_("调整（分钟）"))
    reason = models.CharField(_("原因"), max_length=200)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    transfer = models.OneToOneField(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="adjustment"
    )
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_at = models.DateTimeField(_("驳回/撤回时间"), null=True, blank=True)
    reject_reason = models.CharField(_("驳回/撤回原因"), max_length=200, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "account__org__path"

    class Meta:
        verbose_name = _("调账申请")
        verbose_name_plural = _("调账申请")
        constraints = [
            models.CheckConstraint(condition=~Q(minutes=0), name="adjustment_not_zero"),
            models.CheckConstraint(
                condition=Q(rejected_at__isnull=True)
                | Q(approved_by__isnull=True, transfer__isnull=True),
                name="adjustment_approved_or_rejected",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.minutes:+d}"

    @property
    def status(self) -> AdjustmentStatus:
        if self.transfer_id is not None:
            return AdjustmentStatus.APPROVED
        if self.rejected_at is None:
            return AdjustmentStatus.PENDING
        if self.rejected_by_id is not None and self.rejected_by_id == self.requested_by_id:
            return AdjustmentStatus.WITHDRAWN
        return AdjustmentStatus.REJECTED

    @property
    def audit_org(self) -> Org:
        return self.account.org
