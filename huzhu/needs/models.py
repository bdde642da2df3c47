"""Needs and offers, matching, conversations and long-term pairings (社区服务信息资源共享平台).

A need (需求) is posted by a resident, by a worker for someone without a phone (代发), or by an
org. It moves 待匹配 → 已匹配 → 服务中 → 待确认 → 已完成 (or 已取消; 争议处理中 when the requester
disputes the work), and every step is kept as a ``NeedEvent``. Volunteers (and units in the
area) publish offers (供给). Matching reads ``MatchProfile``, one row per volunteer and need
category, kept beside the volunteer register so that ranking touches only nearby rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.orgs.models import Org
from huzhu.orgs.scope import ScopedQuerySet
from huzhu.people.models import Person
from huzhu.volunteers.models import QualificationType, ServiceCategory, Skill, Volunteer


class NeedCategory(models.Model):
    """A kind of help residents ask for (助餐, 跑腿代办 …): data an administrator edits.

    ``service_category`` is the national category the resulting service record carries;
    ``skills`` are the volunteer skills that fit; ``keywords`` (separated by spaces or commas)
    let free-text descriptions find the category."""

    name = models.CharField(_("名称"), max_length=30, unique=True)
    service_category = models.ForeignKey(
        ServiceCategory,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("对应服务类别"),
    )
    skills = models.ManyToManyField(
        Skill, blank=True, related_name="need_categories", verbose_name=_("相关技能")
    )
    keywords = models.TextField(_("关键词"), blank=True, help_text=_("用空格或逗号分隔"))
    default_minutes = models.PositiveIntegerField(_("预计时长（分钟）"), default=60)
    sort_order = models.IntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("需求类别")
        verbose_name_plural = _("需求类别")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def keyword_list(self) -> list[str]:
        text = self.keywords.replace("，", " ").replace(",", " ").replace("、", " ")
        return [word for word in text.split() if word]


class NeedStatus(models.TextChoices):
    OPEN = "open", _("待匹配")
    MATCHED = "matched", _("已匹配")
    IN_SERVICE = "in_service", _("服务中")
    AWAITING = "awaiting", _("待确认")
    DISPUTED = "disputed", _("争议处理中")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


ACTIVE_NEED_STATUSES = (
    NeedStatus.MATCHED,
    NeedStatus.IN_SERVICE,
    NeedStatus.AWAITING,
    NeedStatus.DISPUTED,
)


class Urgency(models.TextChoices):
    NORMAL = "normal", _("一般")
    SOON = "soon", _("较急")
    URGENT = "urgent", _("紧急")


class Payment(models.TextChoices):
    REQUESTER = "requester", _("时间币支付")
    POOL = "pool", _("公益（互助池支付）")
    NONE = "none", _("公益（不计时间币）")


class NeedChannel(models.TextChoices):
    SELF = "self", _("本人发布")
    WORKER = "worker", _("工作人员代发")
    ORG = "org", _("组织发布")


class NeedQuerySet(ScopedQuerySet):
    pass


class Need(models.Model):
    number = models.CharField(_("需求编号"), max_length=20, unique=True)
    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="needs", verbose_name=_("所属社区")
    )
    requester = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="needs",
        verbose_name=_("求助人"),
    )
    channel = models.CharField(
        _("发布方式"), max_length=10, choices=NeedChannel.choices, default=NeedChannel.SELF
    )
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("发布人"),
    )
    category = models.ForeignKey(
        NeedCategory, on_delete=models.PROTECT, related_name="needs", verbose_name=_("需求类别")
    )
    # Categories the description also suggested (e.g. 买菜 → 跑腿代办 and 助餐), best first.
    extra_categories = models.ManyToManyField(
        NeedCategory, blank=True, related_name="+", verbose_name=_("相关类别")
    )
    title = models.CharField(_("标题"), max_length=60)
    description = models.TextField(_("需求描述"), max_length=1000)
    address = models.CharField(_("服务地点"), max_length=200)
    latitude = models.FloatField(_("纬度"), null=True, blank=True)
    longitude = models.FloatField(_("经度"), null=True, blank=True)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    urgency = models.CharField(
        _("紧急程度"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL
    )
    payment = models.CharField(
        _("支付方式"), max_length=10, choices=Payment.choices, default=Payment.REQUESTER
    )
    minutes = models.PositiveIntegerField(_("预计时长（分钟）"))
    qualifications = models.ManyToManyField(
        QualificationType, blank=True, related_name="+", verbose_name=_("所需证书")
    )
    status = models.CharField(
        _("状态"), max_length=12, choices=NeedStatus.choices, default=NeedStatus.OPEN
    )
    volunteer = models.ForeignKey(
        Volunteer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="needs_served",
        verbose_name=_("服务志愿者"),
    )
    matched_at = models.DateTimeField(_("匹配时间"), null=True, blank=True)
    started_at = models.DateTimeField(_("开始服务时间"), null=True, blank=True)
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    actual_minutes = models.PositiveIntegerField(_("实际时长（分钟）"), null=True, blank=True)
    done_note = models.CharField(_("完成说明"), max_length=300, blank=True)
    rating = models.PositiveSmallIntegerField(_("评分"), null=True, blank=True)
    rating_comment = models.CharField(_("评价"), max_length=200, blank=True)
    dispute_reason = models.CharField(_("争议原因"), max_length=300, blank=True)
    cancel_reason = models.CharField(_("取消原因"), max_length=200, blank=True)
    record = models.OneToOneField(
        "activities.ServiceRecord",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="need",
        verbose_name=_("服务记录"),
    )
    transfer = models.ForeignKey(
        "timebank.Transfer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("时间币支付"),
    )
    created_at = models.DateTimeField(_("发布时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = NeedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("需求")
        verbose_name_plural = _("需求")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["org", "status"]),
            models.Index(fields=["status", "starts_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="need_window"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="need_rating_1_5",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "cancelled"]) | Q(volunteer__isnull=False),
                name="need_taken_has_volunteer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def audit_org(self) -> Org:
        return self.org

    @property
    def is_closed(self) -> bool:
        return self.status in (NeedStatus.DONE, NeedStatus.CANCELLED)


class NeedEvent(models.Model):
    """Who did what when to a need; the need's history, never edited."""

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="events")
    verb = models.CharField(_("操作"), max_length=30)
    from_status = models.CharField(max_length=12, choices=NeedStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=NeedStatus.choices, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(_("操作人"), max_length=150, blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("需求处理记录")
        verbose_name_plural = _("需求处理记录")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.need_id} {self.verb}"


class InvitationKind(models.TextChoices):
    INVITE = "invite", _("邀请")
    BROADCAST = "broadcast", _("紧急广播")
    APPLY = "apply", _("志愿者自荐")


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("待回复")
    ACCEPTED = "accepted", _("已接受")
    DECLINED = "declined", _("已婉拒")
    WITHDRAWN = "withdrawn", _("已撤回")
    CLOSED = "closed", _("已由他人承接")


class Invitation(models.Model):
    """One volunteer asked to take one need (or offering to take it, ``apply``)."""

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="invitations")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="invitations")
    kind = models.CharField(
        _("方式"), max_length=10, choices=InvitationKind.choices, default=InvitationKind.INVITE
    )
    status = models.CharField(
        _("状态"),
        max_length=10,
        choices=InvitationStatus.choices,
        default=InvitationStatus.PENDING,
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    score = models.PositiveSmallIntegerField(_("匹配得分"), null=True, blank=True)
    reasons = models.JSONField(_("推荐理由"), default=list, blank=True)
    reply = models.CharField(_("回复"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("邀请时间"), auto_now_add=True)
    responded_at = models.DateTimeField(_("回复时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("匹配邀请")
        verbose_name_plural = _("匹配邀请")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["need", "volunteer"], name="invitation_once"),
        ]
        indexes = [models.Index(fields=["volunteer", "status"])]

    def __str__(self) -> str:
        return f"{self.need_id} → {self.volunteer_id}"


class MessageRole(models.TextChoices):
    REQUESTER = "requester", _("求助人")
    VOLUNTEER = "volunteer", _("志愿者")
    WORKER = "worker", _("工作人员")
    SYSTEM = "system", _("系统")


class Message(models.Model):
    """The thread of a need: the only channel between requester, volunteer and worker (phone
    numbers are never shown to each other)."""

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    role = models.CharField(_("身份"), max_length=10, choices=MessageRole.choices)
    author_label = models.CharField(_("发言人"), max_length=60)
    body = models.TextField(_("内容"), max_length=1000)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("需求留言")
        verbose_name_plural = _("需求留言")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["need", "created_at"])]

    def __str__(self) -> str:
        return f"{self.author_label}: {self.body[:20]}"


class OfferQuerySet(ScopedQuerySet):
    pass


class Offer(models.Model):
    """供给: what a volunteer — or a unit in the area (驻区单位) — can do, where and when.

    ``availability`` is the 7×3 mask of the volunteer register (bit ``day*3 + part``: Monday
    morning is bit 0). A volunteer's offer location, when given, is where matching measures
    distance from."""

    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="offers", verbose_name=_("所属社区/单位")
    )
    volunteer = models.ForeignKey(
        Volunteer,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="offers",
        verbose_name=_("志愿者"),
    )
    categories = models.ManyToManyField(
        NeedCategory, related_name="offers", verbose_name=_("可提供的服务")
    )
    title = models.CharField(_("标题"), max_length=60)
    description = models.TextField(_("说明"), max_length=1000, blank=True)
    availability = models.PositiveIntegerField(_("可服务时间"), default=0)
    address = models.CharField(_("服务范围/地点"), max_length=200, blank=True)
    latitude = models.FloatField(_("纬度"), null=True, blank=True)
    longitude = models.FloatField(_("经度"), null=True, blank=True)
    is_active = models.BooleanField(_("有效"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("发布时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OfferQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("服务供给")
        verbose_name_plural = _("服务供给")
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["volunteer", "is_active"])]

    def __str__(self) -> str:
        return self.title

    @property
    def audit_org(self) -> Org:
        return self.org


class MatchFit(models.IntegerChoices):
    CATEGORY = 1, _("服务类别相近")
    SKILL = 2, _("具备相关技能")
    OFFER = 3, _("发布了该项服务")


class MatchProfile(models.Model):
    """What ranking needs of one volunteer for one need category, kept in one narrow row.

    Rows exist only for volunteers who may serve (在册, adult). ``cell`` is the ~1 km grid cell of
    the volunteer's location (``matching.cell_of``); volunteers without a location have none and
    are candidates only in their own community. Refreshed when a volunteer's register entry,
    offers or workload change, and nightly by ``huzhu runperiodic``."""

    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.CASCADE, related_name="match_profiles", db_index=False
    )
    category = models.ForeignKey(
        NeedCategory, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    community = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="+", db_index=False)
    fit = models.PositiveSmallIntegerField(choices=MatchFit.choices)
    cell = models.BigIntegerField(null=True)
    latitude = models.FloatField(null=True)
    longitude = models.FloatField(null=True)
    availability = models.PositiveIntegerField(default=0)
    load = models.PositiveSmallIntegerField(default=0)
    no_shows = models.PositiveSmallIntegerField(default=0)
    rating_x10 = models.PositiveSmallIntegerField(default=0)
    ratings = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("匹配画像")
        verbose_name_plural = _("匹配画像")
        constraints = [
            models.UniqueConstraint(fields=["volunteer", "category"], name="match_profile_once"),
        ]
        indexes = [
            models.Index(fields=["category", "cell"], name="match_category_cell"),
            models.Index(fields=["category", "community"], name="match_category_community"),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer_id}/{self.category_id}"


class PairingStatus(models.TextChoices):
    ACTIVE = "active", _("结对中")
    ENDED = "ended", _("已结束")


class PairingQuerySet(ScopedQuerySet):
    pass


class Pairing(models.Model):
    """结对帮扶: a volunteer or party member paired for the long term with a resident in
    difficulty. A pair that has not been visited for ``visit_every_days`` is 'quiet'."""

    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="pairings", verbose_name=_("所属社区")
    )
    helper = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="pairings_helping", verbose_name=_("帮扶人")
    )
    resident = models.ForeignKey(
        Person,
        on_delete=models.PROTECT,
        related_name="pairings_helped",
        verbose_name=_("帮扶对象"),
    )
    helper_is_party_member = models.BooleanField(_("党员结对"), default=False)
    purpose = models.CharField(_("帮扶内容"), max_length=200)
    visit_every_days = models.PositiveSmallIntegerField(_("走访周期（天）"), default=30)
    started_on = models.DateField(_("结对日期"))
    ended_on = models.DateField(_("结束日期"), null=True, blank=True)
    end_reason = models.CharField(_("结束原因"), max_length=200, blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=PairingStatus.choices, default=PairingStatus.ACTIVE
    )
    last_visit_on = models.DateField(_("最近走访"), null=True, blank=True)
    reminded_on = models.DateField(_("最近提醒"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PairingQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("结对帮扶")
        verbose_name_plural = _("结对帮扶")
        ordering = ["-started_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["helper", "resident"],
                condition=Q(status="active"),
                name="pairing_active_once",
            ),
            models.CheckConstraint(
                condition=~Q(helper=models.F("resident")), name="pairing_not_self"
            ),
        ]
        indexes = [models.Index(fields=["org", "status", "last_visit_on"])]

    def __str__(self) -> str:
        return f"{self.helper} → {self.resident}"

    @property
    def audit_org(self) -> Org:
        return self.org


class Visit(models.Model):
    """One entry of a pair's visit log (走访记录)."""

    pairing = models.ForeignKey(Pairing, on_delete=models.CASCADE, related_name="visits")
    visited_on = models.DateField(_("走访日期"))
    minutes = models.PositiveIntegerField(_("时长（分钟）"), null=True, blank=True)
    done = models.CharField(_("帮扶事项"), max_length=300)
    concerns = models.CharField(_("反映的困难或诉求"), max_length=300, blank=True)
    need = models.ForeignKey(
        Need,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("转为需求"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("走访记录")
        verbose_name_plural = _("走访记录")
        ordering = ["-visited_on", "-id"]

    def __str__(self) -> str:
        return f"{self.pairing_id} {self.visited_on}"
