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
    VOLUNTEER_VIEW = "volunteer.view", _("查看志愿者")
    VOLUNTEER_MANAGE = "volunteer.manage", _("登记、审核与管理志愿者")
    TEAM_MANAGE = "team.manage", _("管理服务队成员与培训")
    ACTIVITY_MANAGE = "activity.manage", _("发布活动、管理签到与服务时长")
    RECORD_CERTIFY = "record.certify", _("开具志愿服务证明")
    TIMEBANK_VIEW = "timebank.view", _("查看时间银行账户")
    TIMEBANK_OPERATE = "timebank.operate", _("时间银行柜台：兑换、代办、核实亲属")
    NEED_MANAGE = "need.manage", _("需求对接：代发需求、匹配派单、代为确认、处理争议")
    PAIRING_MANAGE = "pairing.manage", _("结对帮扶：建立结对、记录走访")
    DESK_MANAGE = "desk.manage", _("服务台：登记受理、派单、回访、审核公示与答复建议")
    DESK_HANDLE = "desk.handle", _("承办派给本队的工单：签收、回退、办理、反馈")


_ALL_VIEW = {Perm.VIEW, Perm.PERSON_VIEW, Perm.VOLUNTEER_VIEW, Perm.TIMEBANK_VIEW}
ROLE_PERMS: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset(
        {
            *_ALL_VIEW,
            Perm.ORG_MANAGE,
            Perm.PERSON_EDIT,
            Perm.PERSON_REVEAL,
            Perm.AUDIT_VIEW,
            Perm.VOLUNTEER_MANAGE,
            Perm.TEAM_MANAGE,
            Perm.ACTIVITY_MANAGE,
            Perm.RECORD_CERTIFY,
            Perm.TIMEBANK_OPERATE,
            Perm.NEED_MANAGE,
            Perm.PAIRING_MANAGE,
            Perm.DESK_MANAGE,
            Perm.DESK_HANDLE,
        }
    ),
    Role.WORKER: frozenset(
        {
            *_ALL_VIEW,
            Perm.PERSON_EDIT,
            Perm.PERSON_REVEAL,
            Perm.AUDIT_VIEW,
            Perm.VOLUNTEER_MANAGE,
            Perm.TEAM_MANAGE,
            Perm.ACTIVITY_MANAGE,
            Perm.RECORD_CERTIFY,
            Perm.TIMEBANK_OPERATE,
            Perm.NEED_MANAGE,
            Perm.PAIRING_MANAGE,
            Perm.DESK_MANAGE,
            Perm.DESK_HANDLE,
        }
    ),
    # A team leader runs their own team: members, training, activities, attendance and
    # hours; certificates are issued by the community (admin or worker).
    Role.TEAM_LEADER: frozenset(
        {*_ALL_VIEW, Perm.TEAM_MANAGE, Perm.ACTIVITY_MANAGE, Perm.DESK_HANDLE}
    ),
    Role.PARTY_WORKER: frozenset({*_ALL_VIEW, Perm.PAIRING_MANAGE}),
    Role.SUPERVISOR: frozenset({*_ALL_VIEW, Perm.AUDIT_VIEW}),
}
