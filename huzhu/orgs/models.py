"""The one organisation tree and the role grants over its subtrees (DESIGN.md §2)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.orgs.roles import Role
from huzhu.orgs.scope import ScopedQuerySet


class OrgKind(models.TextChoices):
    CITY = "city", _("市")
    DISTRICT = "district", _("区/县")
    STREET = "street", _("街道/镇")
    COMMUNITY = "community", _("社区")
    GRID = "grid", _("网格")
    ASSOCIATION = "association", _("志愿者协会")
    BRANCH = "branch", _("志愿者分会")
    CORPS = "corps", _("志愿者总队")
    TEAM = "team", _("服务队")
    PARTY_COMMITTEE = "party_committee", _("党（工）委")
    PARTY_BRANCH = "party_branch", _("党支部")
    PARTY_GROUP = "party_group", _("党小组")
    UNIT = "unit", _("驻区单位")


# Which kinds may hang under which (DOMAIN.md §2). Policy as data, checked by org_create.
ALLOWED_CHILDREN: dict[str, frozenset[str]] = {
    OrgKind.CITY: frozenset(
        {OrgKind.DISTRICT, OrgKind.ASSOCIATION, OrgKind.UNIT, OrgKind.PARTY_COMMITTEE}
    ),
    OrgKind.DISTRICT: frozenset({OrgKind.STREET, OrgKind.UNIT, OrgKind.PARTY_COMMITTEE}),
    OrgKind.STREET: frozenset({OrgKind.COMMUNITY, OrgKind.UNIT, OrgKind.PARTY_COMMITTEE}),
    OrgKind.COMMUNITY: frozenset(
        {OrgKind.GRID, OrgKind.CORPS, OrgKind.PARTY_BRANCH, OrgKind.PARTY_COMMITTEE, OrgKind.UNIT}
    ),
    OrgKind.GRID: frozenset(),
    OrgKind.ASSOCIATION: frozenset({OrgKind.BRANCH}),
    OrgKind.BRANCH: frozenset(),
    OrgKind.CORPS: frozenset({OrgKind.TEAM}),
    OrgKind.TEAM: frozenset(),
    OrgKind.PARTY_COMMITTEE: frozenset({OrgKind.PARTY_BRANCH}),
    OrgKind.PARTY_BRANCH: frozenset({OrgKind.PARTY_GROUP}),
    OrgKind.PARTY_GROUP: frozenset(),
    OrgKind.UNIT: frozenset(),
}
# Kinds a resident can be registered under.
RESIDENCE_KINDS = frozenset({OrgKind.COMMUNITY, OrgKind.GRID})


class OrgQuerySet(ScopedQuerySet):
    def descendants_of(self, org: Org, include_self: bool = True) -> OrgQuerySet:
        qs = self.filter(path__startswith=org.path)
        return qs if include_self else qs.exclude(pk=org.pk)

    def ancestors_of(self, org: Org) -> OrgQuerySet:
        ids = [int(part) for part in org.path.strip("/").split("/") if part]
        return self.filter(pk__in=ids).order_by("depth")


class Org(models.Model):
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("上级组织"),
    )
    kind = models.CharField(_("类型"), max_length=20, choices=OrgKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    # Materialised path of ids, e.g. "/1/4/17/"; every subtree query is a prefix match.
    path = models.CharField(_("路径"), max_length=255, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(_("层级"), default=0, editable=False)
    division_code = models.CharField(
        _("区划代码"),
        max_length=12,
        null=True,
        blank=True,
        help_text=_("统计用区划代码（12位）或行政区划代码（6位），可留空"),
    )
    # The functional chain beside the tree: a community's 志愿者总队 belongs to its district's
    # 分会 of the city association (DOMAIN.md §2), while living under the community.
    affiliation = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="affiliates",
        verbose_name=_("隶属（业务上级）"),
    )
    address = models.CharField(_("地址"), max_length=200, blank=True)
    service_phone = models.CharField(_("服务电话"), max_length=30, blank=True)
    supervision_phone = models.CharField(_("监督电话"), max_length=30, blank=True)
    # The centre of a community or grid (WGS-84): where matching measures distance from for
    # volunteers who have not marked a place of their own.
    latitude = models.FloatField(_("纬度"), null=True, blank=True)
    longitude = models.FloatField(_("经度"), null=True, blank=True)
    sort_order = models.IntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgQuerySet.as_manager()
    scope_path = "path"

    class Meta:
        verbose_name = _("组织")
        verbose_name_plural = _("组织")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(
                fields=["division_code"],
                condition=Q(division_code__isnull=False),
                name="org_division_code_unique",
            ),
            models.CheckConstraint(
                condition=Q(division_code__isnull=True)
                | Q(division_code__regex=r"^[0-9]{6}([0-9]{6})?$"),
                name="org_division_code_digits",
            ),
        ]
        indexes = [models.Index(fields=["kind", "path"])]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_org(self) -> Org:
        return self

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]


class RoleGrant(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="role_grants",
        verbose_name=_("用户"),
    )
    org = models.ForeignKey(
        Org, on_delete=models.CASCADE, related_name="grants", verbose_name=_("组织")
    )
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("授权人"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("角色授权")
        verbose_name_plural = _("角色授权")
        constraints = [
            models.UniqueConstraint(fields=["user", "org", "role"], name="rolegrant_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} @ {self.org}"

    @property
    def audit_org(self) -> Org:
        return self.org
