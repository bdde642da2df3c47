"""The audit history of one record, readable in Chinese.

A record's history is shown only when the record itself is visible in the user's scope (else
404, the same as a missing record) and the user holds ``audit.view`` over it (else 403).
Audit data holds masked values only, so this page never shows a full ID or phone number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from huzhu.common.models import AuditEntry
from huzhu.common.selectors import audit_history
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Perm, Role
from huzhu.orgs.scope import Scope
from huzhu.orgs.selectors import org_get
from huzhu.people.models import ResidenceStatus, TagCategory
from huzhu.people.selectors import person_get

PAGE_SIZE = 50

# Verb → readable label. Other apps may add their verbs here (unknown verbs show as is).
VERB_LABELS: dict[str, Any] = {
    "person.create": gettext_lazy("登记居民"),
    "person.update": gettext_lazy("修改居民信息"),
    "person.reveal": gettext_lazy("查看完整号码"),
    "person.link_user": gettext_lazy("关联登录账号"),
    "tag.create": gettext_lazy("新建居民标签"),
    "org.create": gettext_lazy("新建组织"),
    "org.update": gettext_lazy("修改组织信息"),
    "org.move": gettext_lazy("调整上级组织"),
    "role.grant": gettext_lazy("授予角色"),
    "role.revoke": gettext_lazy("撤销角色"),
    "user.create": gettext_lazy("创建登录账号"),
    "volunteer.register": gettext_lazy("志愿者注册登记"),
    "volunteer.status": gettext_lazy("变更志愿者状态"),
    "volunteer.update": gettext_lazy("修改志愿者信息"),
    "volunteer.import": gettext_lazy("导入志愿者名册"),
    "volunteer.import_report": gettext_lazy("下载导入错误报告"),
    "volunteer.export": gettext_lazy("导出志愿者名册"),
    "volunteer.archive_print": gettext_lazy("打印志愿者档案"),
    "team.member_add": gettext_lazy("加入服务队"),
    "team.member_role": gettext_lazy("调整服务队职务"),
    "team.member_remove": gettext_lazy("退出服务队"),
    "training.course_create": gettext_lazy("新建培训课程"),
    "training.course_update": gettext_lazy("修改培训课程"),
    "training.session_create": gettext_lazy("新建培训场次"),
    "training.session_update": gettext_lazy("修改培训场次"),
    "training.attendance": gettext_lazy("登记培训出勤"),
    "qualification.add": gettext_lazy("登记资格证书"),
    "qualification.update": gettext_lazy("修改资格证书"),
    "qualification.remove": gettext_lazy("删除资格证书"),
    "star.apply": gettext_lazy("申请星级"),
    "star.publicity": gettext_lazy("星级公示"),
    "star.grant": gettext_lazy("认定星级"),
    "star.reject": gettext_lazy("星级申请未通过"),
    "star.withdraw": gettext_lazy("撤回星级申请"),
    "star.bar": gettext_lazy("限制星级认定"),
    "honour.add": gettext_lazy("登记荣誉"),
    "honour.remove": gettext_lazy("删除荣誉"),
    "evaluation.add": gettext_lazy("登记评价"),
    "evaluation.remove": gettext_lazy("删除评价"),
    "activity.create": gettext_lazy("发布志愿活动"),
    "activity.update": gettext_lazy("修改志愿活动"),
    "activity.status": gettext_lazy("变更活动状态"),
    "activity.beneficiaries": gettext_lazy("登记服务对象人次"),
    "activity.auto_start": gettext_lazy("活动自动开始"),
    "activity.ical_reset": gettext_lazy("重置日历订阅地址"),
    "shift.create": gettext_lazy("新增班次"),
    "shift.update": gettext_lazy("修改班次"),
    "shift.cancel": gettext_lazy("取消班次"),
    "signup.create": gettext_lazy("报名班次"),
    "signup.decide": gettext_lazy("审核报名"),
    "signup.withdraw": gettext_lazy("取消报名"),
    "attendance.check_in": gettext_lazy("签到"),
    "attendance.check_out": gettext_lazy("签退"),
    "attendance.correct": gettext_lazy("更正签到时间"),
    "attendance.no_show": gettext_lazy("标记缺席"),
    "records.create_from_attendance": gettext_lazy("由签到生成服务记录"),
    "records.confirm_shift": gettext_lazy("整班确认服务时长"),
    "record.declare": gettext_lazy("申报服务时长"),
    "record.enter": gettext_lazy("录入服务记录"),
    "record.confirm": gettext_lazy("确认服务记录"),
    "record.reject": gettext_lazy("退回服务记录"),
    "record.revoke": gettext_lazy("撤销服务记录"),
    "record.correct": gettext_lazy("更正服务记录"),
    "record.evaluate": gettext_lazy("评价服务记录"),
    "certificate.apply": gettext_lazy("申请志愿服务证明"),
    "certificate.issue": gettext_lazy("开具志愿服务证明"),
    "certificate.reject": gettext_lazy("不予开具志愿服务证明"),
    "certificate.revoke": gettext_lazy("撤销志愿服务证明"),
    "certificate.download": gettext_lazy("下载志愿服务证明"),
    "timebank.transfer": gettext_lazy("时间币转赠家人"),
    "timebank.donate": gettext_lazy("捐赠时间币"),
    "timebank.spend": gettext_lazy("支付时间币"),
    "timebank.fund_seed": gettext_lazy("保障基金注资"),
    "timebank.team_donate": gettext_lazy("服务队捐赠团体时长"),
    "timebank.fund_grant": gettext_lazy("保障基金资助"),
    "timebank.statement_export": gettext_lazy("导出时间银行对账单"),
    "timebank.flows_export": gettext_lazy("导出时间银行资金流"),
    "timebank.adjust_request": gettext_lazy("申请调账"),
    "timebank.adjust_approve": gettext_lazy("复核调账"),
    "timebank.adjust_reject": gettext_lazy("驳回调账"),
    "timebank.adjust_withdraw": gettext_lazy("撤回调账"),
    "timebank.family_declare": gettext_lazy("申报亲属关系"),
    "timebank.family_verify": gettext_lazy("核实亲属关系"),
    "timebank.family_revoke": gettext_lazy("撤销亲属关系"),
    "timebank.item_create": gettext_lazy("上架爱心超市物品"),
    "timebank.item_update": gettext_lazy("修改爱心超市物品"),
    "timebank.policy_set": gettext_lazy("修改时间银行规则"),
    "timebank.redeem": gettext_lazy("爱心超市兑换"),
    "timebank.pool_spend": gettext_lazy("互助池支付公益服务"),
    "record.from_need": gettext_lazy("需求完成生成服务记录"),
    "need.post": gettext_lazy("发布需求"),
    "need.update": gettext_lazy("修改需求"),
    "need.cancel": gettext_lazy("取消需求"),
    "need.invite": gettext_lazy("邀请志愿者"),
    "need.apply": gettext_lazy("志愿者自荐"),
    "need.match": gettext_lazy("需求匹配成功"),
    "need.decline": gettext_lazy("婉拒邀请"),
    "need.start": gettext_lazy("开始服务"),
    "need.done": gettext_lazy("标记服务完成"),
    "need.confirm": gettext_lazy("确认完成并支付"),
    "need.dispute": gettext_lazy("提出异议"),
    "need.dispute_return": gettext_lazy("异议退回志愿者"),
    "need.dispute_close": gettext_lazy("异议关闭需求"),
    "need.export": gettext_lazy("导出需求"),
    "offer.save": gettext_lazy("发布服务供给"),
    "pairing.create": gettext_lazy("建立结对"),
    "pairing.end": gettext_lazy("结束结对"),
    "pairing.visit": gettext_lazy("记录走访"),
    "desk.ticket.create": gettext_lazy("登记工单"),
    "desk.ticket.accept": gettext_lazy("受理工单"),
    "desk.ticket.answer": gettext_lazy("当场答复"),
    "desk.ticket.assign": gettext_lazy("派单"),
    "desk.ticket.acknowledge": gettext_lazy("签收工单"),
    "desk.ticket.return": gettext_lazy("回退工单"),
    "desk.ticket.extension_request": gettext_lazy("申请延期"),
    "desk.ticket.extension_approve": gettext_lazy("批准延期"),
    "desk.ticket.extension_refuse": gettext_lazy("不批准延期"),
    "desk.ticket.resolve": gettext_lazy("反馈办理结果"),
    "desk.ticket.close": gettext_lazy("办结工单"),
    "desk.ticket.reopen": gettext_lazy("退回重办"),
    "desk.ticket.link": gettext_lazy("并案办理"),
    "desk.ticket.withdraw": gettext_lazy("撤回工单"),
    "desk.ticket.escalate": gettext_lazy("逾期督办"),
    "desk.ticket.reveal": gettext_lazy("查看完整联系电话"),
    "desk.photo.publish": gettext_lazy("公开照片"),
    "desk.photo.hide": gettext_lazy("撤下照片"),
    "desk.matter.create": gettext_lazy("新增事项"),
    "desk.matter.update": gettext_lazy("修改事项"),
    "desk.patrol.set": gettext_lazy("设置网格巡查队"),
    "desk.patrol.clear": gettext_lazy("取消网格巡查队"),
    "desk.notice.submit": gettext_lazy("投稿公示"),
    "desk.notice.publish": gettext_lazy("发布公示"),
    "desk.notice.reject": gettext_lazy("退回公示投稿"),
    "desk.notice.withdraw": gettext_lazy("撤下公示"),
    "desk.suggestion.submit": gettext_lazy("提交建议"),
    "desk.suggestion.reply": gettext_lazy("答复建议"),
    "desk.contact.add": gettext_lazy("新增公开联系人"),
    "desk.contact.delete": gettext_lazy("删除公开联系人"),
    "desk.community.phones": gettext_lazy("设置服务电话与监督电话"),
    "desk.appkey.issue": gettext_lazy("签发 Open311 应用密钥"),
    "desk.appkey.revoke": gettext_lazy("吊销 Open311 应用密钥"),
    "desk.stats.export": gettext_lazy("导出服务台统计"),
}

# Field names in audit data → labels, by the verb's prefix; "" holds the shared ones.
FIELD_LABELS: dict[str, dict[str, Any]] = {
    "": {
        "name": gettext_lazy("名称"),
        "org": gettext_lazy("组织"),
        "user": gettext_lazy("用户"),
        "role": gettext_lazy("角色"),
        "reason": gettext_lazy("原因"),
        "fields": gettext_lazy("查看项目"),
        "from": gettext_lazy("原位置"),
        "to": gettext_lazy("新位置"),
    },
    "person": {
        "name": gettext_lazy("姓名"),
        "id_number": gettext_lazy("身份证号"),
        "phone": gettext_lazy("手机号"),
        "address": gettext_lazy("住址"),
        "notes": gettext_lazy("备注"),
        "status": gettext_lazy("状态"),
        "org": gettext_lazy("所属社区/网格"),
        "tags": gettext_lazy("标签"),
    },
    "org": {
        "kind": gettext_lazy("类型"),
        "parent": gettext_lazy("上级组织"),
        "division_code": gettext_lazy("区划代码"),
        "address": gettext_lazy("地址"),
        "service_phone": gettext_lazy("服务电话"),
        "supervision_phone": gettext_lazy("监督电话"),
        "sort_order": gettext_lazy("排序"),
        "is_active": gettext_lazy("启用"),
    },
    "tag": {
        "category": gettext_lazy("类别"),
        "description": gettext_lazy("说明"),
        "is_sensitive": gettext_lazy("敏感信息"),
    },
}

# Coded values shown by their label.
VALUE_LABELS: dict[str, dict[str, Any]] = {
    "status": dict(ResidenceStatus.choices),
    "role": dict(Role.choices),
    "kind": dict(OrgKind.choices),
    "category": dict(TagCategory.choices),
}


@dataclass
class HistoryItem:
    entry: AuditEntry
    label: str
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)


def _field_label(verb: str, name: str) -> str:
    prefix = verb.split(".", 1)[0]
    label = FIELD_LABELS.get(prefix, {}).get(name) or FIELD_LABELS[""].get(name)
    return str(label) if label else name


def _value(verb: str, name: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return _("（空）")
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if name == "fields" and isinstance(value, list):
        return "、".join(_field_label(verb, str(v)) for v in value)
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}: {v}" for k, v in value.items())
    labels = VALUE_LABELS.get(name)
    if labels and value in labels:
        return str(labels[value])
    return str(value)


def describe(entry: AuditEntry) -> HistoryItem:
    """One audit entry as a readable item: a change table for updates, details otherwise."""
    verb = entry.verb
    item = HistoryItem(entry=entry, label=str(VERB_LABELS.get(verb, verb)))
    data = entry.data if isinstance(entry.data, dict) else {"": entry.data}
    for name, value in data.items():
        if name == "changes" and isinstance(value, dict):
            for changed, pair in value.items():
                old, new = pair if isinstance(pair, list | tuple) and len(pair) == 2 else ("", pair)
                item.changes.append(
                    (
                        _field_label(verb, changed),
                        _value(verb, changed, old),
                        _value(verb, changed, new),
                    )
                )
        else:
            item.details.append((_field_label(verb, name), _value(verb, name, value)))
    return item


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def _render_history(
    request: HttpRequest,
    *,
    target: models.Model,
    title: str,
    back_url: str,
    breadcrumbs: list[tuple[str, str]],
) -> HttpResponse:
    entries = audit_history(scope=_scope(request), target=target)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "common/history.html",
        {
            "target": target,
            "title": title,
            "back_url": back_url,
            "breadcrumbs": breadcrumbs,
            "page": page,
            "items": [describe(e) for e in page.object_list],
        },
    )


@require_safe
@login_required
def person_history(request: HttpRequest, person_id: int) -> HttpResponse:
    scope = _scope(request)
    person = person_get(scope=scope, person_id=person_id)
    if not scope.can(Perm.AUDIT_VIEW, person.org):
        raise PermissionDenied(_("您没有查看操作记录的权限"))
    detail = reverse("people:detail", kwargs={"person_id": person.pk})
    return _render_history(
        request,
        target=person,
        title=_("%(name)s 的操作记录") % {"name": person.name},
        back_url=detail,
        breadcrumbs=[(_("居民"), reverse("people:list")), (person.name, detail)],
    )


@require_safe
@login_required
def org_history(request: HttpRequest, org_id: int) -> HttpResponse:
    scope = _scope(request)
    org = org_get(scope=scope, org_id=org_id)
    if not scope.can(Perm.AUDIT_VIEW, org):
        raise PermissionDenied(_("您没有查看操作记录的权限"))
    tree = reverse("orgs:tree")
    return _render_history(
        request,
        target=org,
        title=_("%(name)s 的操作记录") % {"name": org.name},
        back_url=tree,
        breadcrumbs=[(_("组织"), tree), (org.name, "")],
    )
