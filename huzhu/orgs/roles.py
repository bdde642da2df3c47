"""Roles and what each may do. Policy as data: services and selectors ask ``Scope``."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("管理员")
    WORKER = "worker", _("社区工作者")
    TEAM_LEADER = "team_leader", _("服务队长")
    PARTY_WORKER = "party_worker", _("党务工作者")
    SUPERVISOR = "supervisor", _("督查（只读）")


class Perm(models.TextChoices):
    VIEW = "view", _("查看")
    ORG_MANAGE = "org.manage", _("管理组织与授权")
    PERSON_VIEW = "person.view", _("查看居民")
    PERSON_EDIT = "person.edit", _("登记与修改居民")
    PERSON_REVEAL = "person.reveal", _("查看完整证件号和手机号")
    AUDIT_VIEW = "audit.view", _("查看操作记录")


ROLE_PERMS: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset(
        {
            Perm.VIEW,
            Perm.ORG_MANAGE,
            Perm.PERSON_VIEW,
            Perm.PERSON_EDIT,
            Perm.PERSON_REVEAL,
            Perm.AUDIT_VIEW,
        }
    ),
    Role.WORKER: frozenset(
        {Perm.VIEW, Perm.PERSON_VIEW, Perm.PERSON_EDIT, Perm.PERSON_REVEAL, Perm.AUDIT_VIEW}
    ),
    Role.TEAM_LEADER: frozenset({Perm.VIEW, Perm.PERSON_VIEW}),
    Role.PARTY_WORKER: frozenset({Perm.VIEW, Perm.PERSON_VIEW}),
    Role.SUPERVISOR: frozenset({Perm.VIEW, Perm.PERSON_VIEW, Perm.AUDIT_VIEW}),
}
