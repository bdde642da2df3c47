"""One navigation for every role: each item names the permission that shows it.

Items with the same ``group`` form one drop-down menu, in the order the group first appears.
Later apps append their items to ``NAV_ITEMS``; the context processor filters by scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    icon: str
    perm: str | None = None  # None: any signed-in user
    needs_person: bool = False  # shown to users linked to a Person record (residents, volunteers)
    show_if: Callable[[NavContext], bool] | None = None
    group: str | None = None


@dataclass
class NavContext:
    """What items may ask about the user, each looked up at most once per request."""

    scope: Scope
    _volunteer: bool | None = field(default=None, repr=False)
    _pairings: bool | None = field(default=None, repr=False)

    @property
    def is_volunteer(self) -> bool:
        if self._volunteer is None:
            self._volunteer = False
            if self.scope.person_id is not None:
                from huzhu.volunteers.models import Volunteer

                self._volunteer = Volunteer.objects.filter(person_id=self.scope.person_id).exists()
        return self._volunteer

    @property
    def has_pairings(self) -> bool:
        if self._pairings is None:
            self._pairings = False
            if self.scope.person_id is not None:
                from huzhu.needs.models import Pairing, PairingStatus

                self._pairings = Pairing.objects.filter(
                    helper_id=self.scope.person_id, status=PairingStatus.ACTIVE
                ).exists()
        return self._pairings


@dataclass
class NavEntry:
    """A top-level entry: one link, or a group with its links."""

    label: str
    icon: str
    item: NavItem | None = None
    children: list[NavItem] = field(default_factory=list)


VOLUNTEERS = _("志愿者")
ACTIVITIES = _("活动")
TIMEBANK = _("时间银行")
NEEDS = _("需求对接")
DESK = _("服务台")

NAV_ITEMS: list[NavItem] = [
    NavItem(_("工作台"), "home", "house"),
    NavItem(_("我的信息"), "people:me", "person-circle", needs_person=True),
    NavItem(_("我的志愿服务"), "volunteers:mine", "heart", show_if=lambda c: c.is_volunteer),
    NavItem(_("活动报名"), "activities:browse", "calendar-heart", show_if=lambda c: c.is_volunteer),
    NavItem(_("签到"), "activities:checkin_code", "qr-code-scan", show_if=lambda c: c.is_volunteer),
    NavItem(
        _("我的时长与证明"),
        "activities:my_hours",
        "clock-history",
        show_if=lambda c: c.is_volunteer,
    ),
    NavItem(
        _("志愿者注册"),
        "volunteers:register_self",
        "heart",
        show_if=lambda c: not c.is_volunteer and not c.scope.can(Perm.VOLUNTEER_VIEW),
    ),
    NavItem(_("时间银行"), "timebank:home", "piggy-bank", needs_person=True),
    NavItem(_("我要求助"), "needs:home", "hand-index-thumb", needs_person=True),
    NavItem(
        _("邀请与承接"), "needs:invitations", "envelope-heart", show_if=lambda c: c.is_volunteer
    ),
    NavItem(_("我的结对"), "needs:my_pairings", "people", show_if=lambda c: c.has_pairings),
    NavItem(_("我要反映"), "desk:report", "megaphone", needs_person=True),
    NavItem(_("我的事项"), "desk:my_tickets", "card-checklist", needs_person=True),
    NavItem(_("居民"), "people:list", "people", Perm.PERSON_VIEW),
    NavItem(
        _("志愿者名册"), "volunteers:list", "heart-pulse", Perm.VOLUNTEER_VIEW, group=VOLUNTEERS
    ),
    NavItem(
        _("注册审核"), "volunteers:review", "person-check", Perm.VOLUNTEER_MANAGE, group=VOLUNTEERS
    ),
    NavItem(_("服务队"), "volunteers:teams", "people-fill", Perm.VOLUNTEER_VIEW, group=VOLUNTEERS),
    NavItem(_("培训"), "volunteers:training", "mortarboard", Perm.VOLUNTEER_VIEW, group=VOLUNTEERS),
    NavItem(
        _("证书到期"),
        "volunteers:qualifications_expiring",
        "patch-exclamation",
        Perm.VOLUNTEER_VIEW,
        group=VOLUNTEERS,
    ),
    NavItem(_("星级评定"), "volunteers:stars", "star", Perm.VOLUNTEER_MANAGE, group=VOLUNTEERS),
    NavItem(
        _("名册导入"),
        "volunteers:import",
        "file-earmark-arrow-up",
        Perm.VOLUNTEER_MANAGE,
        group=VOLUNTEERS,
    ),
    NavItem(
        _("代为登记"), "volunteers:create", "person-plus", Perm.VOLUNTEER_MANAGE, group=VOLUNTEERS
    ),
    NavItem(_("活动管理"), "activities:manage_list", "calendar-event", Perm.VIEW, group=ACTIVITIES),
    NavItem(
        _("时长确认"), "activities:records", "clock-history", Perm.ACTIVITY_MANAGE, group=ACTIVITIES
    ),
    NavItem(
        _("志愿服务证明"),
        "activities:certificates",
        "award",
        Perm.RECORD_CERTIFY,
        group=ACTIVITIES,
    ),
    NavItem(_("时间银行柜台"), "timebank:counter", "shop", Perm.TIMEBANK_OPERATE, group=TIMEBANK),
    NavItem(_("爱心超市"), "timebank:items", "basket", Perm.TIMEBANK_OPERATE, group=TIMEBANK),
    NavItem(_("资金流"), "timebank:flows", "graph-up", Perm.TIMEBANK_VIEW, group=TIMEBANK),
    NavItem(_("团体时长"), "timebank:teams", "people", Perm.TIMEBANK_VIEW, group=TIMEBANK),
    NavItem(_("保障基金"), "timebank:fund", "shield-check", Perm.TIMEBANK_OPERATE, group=TIMEBANK),
    NavItem(_("时间银行规则"), "timebank:policies", "sliders", Perm.TIMEBANK_VIEW, group=TIMEBANK),
    NavItem(_("需求看板"), "needs:manage_list", "clipboard-heart", Perm.VIEW, group=NEEDS),
    NavItem(_("代发需求"), "needs:manage_new", "pencil-square", Perm.NEED_MANAGE, group=NEEDS),
    NavItem(_("服务供给"), "needs:manage_offers", "hand-thumbs-up", Perm.VIEW, group=NEEDS),
    NavItem(_("结对帮扶"), "needs:manage_pairings", "link-45deg", Perm.VIEW, group=NEEDS),
    NavItem(_("服务台"), "desk:home", "headset", Perm.VIEW, group=DESK),
    NavItem(_("登记来访来电"), "desk:intake", "journal-plus", Perm.DESK_MANAGE, group=DESK),
    NavItem(_("工单"), "desk:ticket_list", "list-task", Perm.VIEW, group=DESK),
    NavItem(_("督办"), "desk:overdue", "alarm", Perm.VIEW, group=DESK),
    NavItem(_("来访登记簿"), "desk:visitor_log", "journal-text", Perm.DESK_MANAGE, group=DESK),
    NavItem(_("统计分析"), "desk:stats", "bar-chart", Perm.VIEW, group=DESK),
    NavItem(_("公示栏审核"), "desk:notices", "megaphone", Perm.DESK_MANAGE, group=DESK),
    NavItem(_("献良策"), "desk:suggestions", "lightbulb", Perm.DESK_MANAGE, group=DESK),
    NavItem(_("事项清单"), "desk:matters", "card-list", Perm.DESK_MANAGE, group=DESK),
    NavItem(_("网格巡查队"), "desk:patrols", "shield", Perm.DESK_MANAGE, group=DESK),
    NavItem(_("公开联系人"), "desk:contacts", "telephone", Perm.DESK_MANAGE, group=DESK),
    NavItem(_("Open311 应用密钥"), "desk:keys", "key", Perm.ORG_MANAGE, group=DESK),
    NavItem(_("组织"), "orgs:tree", "diagram-3", Perm.VIEW),
    NavItem(_("居民标签"), "people:tags", "tags", Perm.ORG_MANAGE),
]
GROUP_ICONS = {
    VOLUNTEERS: "heart-pulse",
    ACTIVITIES: "calendar-event",
    TIMEBANK: "piggy-bank",
    NEEDS: "clipboard-heart",
    DESK: "headset",
}


def visible_items(scope: Scope) -> list[NavItem]:
    context = NavContext(scope)
    items = []
    for item in NAV_ITEMS:
        if item.needs_person and scope.person_id is None:
            continue
        if item.perm is not None and not scope.can(item.perm):
            continue
        if item.show_if is not None and not item.show_if(context):
            continue
        items.append(item)
    return items


def visible_entries(scope: Scope) -> list[NavEntry]:
    entries: list[NavEntry] = []
    groups: dict[str, NavEntry] = {}
    for item in visible_items(scope):
        if item.group is None:
            entries.append(NavEntry(label=item.label, icon=item.icon, item=item))
            continue
        if item.group not in groups:
            groups[item.group] = NavEntry(
                label=item.group, icon=GROUP_ICONS.get(item.group, "list")
            )
            entries.append(groups[item.group])
        groups[item.group].children.append(item)
    return entries
