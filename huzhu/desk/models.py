"""The one-stop service desk (一站式服务, 接诉即办) and the public face of a community.

A ``Ticket`` (工单) is every matter a resident brings, from any channel: a walk-in visit (the
visitor log), a phone call, the web or mobile form, the API or Open311. Its kind, what the
resident must bring (一次性告知) and its deadline in working days come from the community's
``MatterType`` catalogue. It moves 登记 → 受理 (or 当场答复 → 办结) → 派单 → 签收 | 回退 → 办理
→ 反馈 → 回访 → 办结 | 退回重办 (DOMAIN.md §6); every step is a ``TicketEvent``. The first
receiver (首问负责人) owns it until it closes. Civic reports (文明评议) are tickets whose matter
type is a civic category; they carry photos and go to the grid's patrol team (巡查队).

Beside the desk: notice boards (``Notice``: 好人好事, 典型事迹, 不文明行为, 社区公告) with
moderation, a suggestion box (``Suggestion``, 献良策), the contacts a community publishes
(``PublicContact``), and application keys for Open311 clients (``AppKey``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.orgs.models import Org
from huzhu.orgs.scope import ScopedQuerySet
from huzhu.people.models import Person


class MatterKind(models.TextChoices):
    AFFAIR = "affair", _("办事")
    CONSULT = "consult", _("咨询")
    HELP = "help", _("求助")
    COMPLAINT = "complaint", _("投诉")
    CIVIC = "civic", _("文明评议")


class MatterTypeQuerySet(ScopedQuerySet):
    def for_community(self, community: Org) -> MatterTypeQuerySet:
        """The catalogue a community uses: the shared defaults, its own types and those of the
        orgs above it."""
        return self.filter(
            Q(org__isnull=True) | Q(org_id__in=community.ancestor_ids), is_active=True
        )


class MatterType(models.Model):
    """One line of a community's matter catalogue (事项清单). Types without an org are the shared
    defaults (the civic categories of DOMAIN.md §6 and common matters); types defined on a
    street or district apply to every community below it. ``code`` is the Open311 service
    code."""

    org = models.ForeignKey(
        Org,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="matter_types",
        verbose_name=_("所属组织"),
        help_text=_("留空为全市通用事项"),
    )
    code = models.SlugField(_("事项编码"), max_length=40, unique=True)
    name = models.CharField(_("事项名称"), max_length=60)
    kind = models.CharField(_("类型"), max_length=10, choices=MatterKind.choices)
    group = models.CharField(_("分组"), max_length=30, blank=True)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    materials = models.TextField(
        _("一次性告知"), blank=True, help_text=_("居民需携带的材料和注意事项，每行一项")
    )
    deadline_days = models.PositiveSmallIntegerField(_("办理时限（工作日）"), default=5)
    handling_team = models.ForeignKey(
        Org,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("承办队伍"),
    )
    keywords = models.CharField(_("关键词"), max_length=200, blank=True)
    is_public = models.BooleanField(
        _("公开"), default=False, help_text=_("在公示栏和 Open311 中公开办理情况（不含反映人）")
    )
    sort_order = models.IntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    objects = MatterTypeQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("事项")
        verbose_name_plural = _("事项清单")
        ordering = ["sort_order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(deadline_days__gte=1, deadline_days__lte=60),
                name="matter_deadline_1_60",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_org(self) -> Org | None:
        return self.org

    @property
    def is_civic(self) -> bool:
        return self.kind == MatterKind.CIVIC

    @property
    def material_list(self) -> list[str]:
        return [line.strip() for line in self.materials.splitlines() if line.strip()]


class Channel(models.TextChoices):
    WALK_IN = "walk_in", _("来访")
    PHONE = "phone", _("来电")
    WEB = "web", _("网上")
    MOBILE = "mobile", _("手机")
    API = "api", _("接口")
    OPEN311 = "open311", _("Open311")


class TicketStatus(models.TextChoices):
    REGISTERED = "registered", _("登记")
    ACCEPTED = "accepted", _("已受理")
    ASSIGNED = "assigned", _("已派单")
    RETURNED = "returned", _("已回退")
    IN_PROGRESS = "in_progress", _("办理中")
    RESOLVED = "resolved", _("已反馈待回访")
    CLOSED = "closed", _("办结")


OPEN_TICKET_STATUSES = (
    TicketStatus.REGISTERED,
    TicketStatus.ACCEPTED,
    TicketStatus.ASSIGNED,
    TicketStatus.RETURNED,
    TicketStatus.IN_PROGRESS,
)
# Statuses in which the deadline runs (a resolved ticket awaits the resident, not the team).
RUNNING_STATUSES = OPEN_TICKET_STATUSES


class CloseReason(models.TextChoices):
    ON_THE_SPOT = "on_the_spot", _("当场答复")
    RESOLVED = "resolved", _("办理完毕")
    DUPLICATE = "duplicate", _("重复反映，并案办理")
    WITHDRAWN = "withdrawn", _("居民撤回")
    INVALID = "invalid", _("无效信息")


class EscalationLevel(models.IntegerChoices):
    NONE = 0, _("未督办")
    STREET = 1, _("街道督办")
    DISTRICT = 2, _("区级督办")


class TicketQuerySet(ScopedQuerySet):
    def open(self) -> TicketQuerySet:
        return self.filter(status__in=OPEN_TICKET_STATUSES)


class Ticket(models.Model):
    number = models.CharField(_("工单编号"), max_length=20, unique=True)
    token = models.CharField(max_length=32, unique=True, editable=False)
    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("所属社区")
    )
    grid = models.ForeignKey(
        Org,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="grid_tickets",
        verbose_name=_("网格"),
    )
    matter_type = models.ForeignKey(
        MatterType, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("事项")
    )
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    title = models.CharField(_("标题"), max_length=60)
    description = models.TextField(_("内容"), max_length=2000)
    address = models.CharField(_("地点"), max_length=200, blank=True)
    latitude = models.FloatField(_("纬度"), null=True, blank=True)
    longitude = models.FloatField(_("经度"), null=True, blank=True)
    # Who brought the matter: a registered person, or a name and phone given at the desk.
    reporter = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
        verbose_name=_("反映人"),
    )
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone_encrypted = models.TextField(blank=True, editable=False)
    contact_phone_hash = models.CharField(max_length=64, blank=True, db_index=True)
    contact_phone_masked = models.CharField(_("联系电话"), max_length=11, blank=True)
    # The reporter's name is never public unless they opt in (DOMAIN.md §6).
    reporter_public = models.BooleanField(_("愿意公开姓名"), default=False)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("提交账号"),
    )
    app_key = models.ForeignKey(
        "desk.AppKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        verbose_name=_("应用"),
    )
    # Keyed hash of the client address, for rate limits; never the address itself.
    source_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    status = models.CharField(
        _("状态"), max_length=12, choices=TicketStatus.choices, default=TicketStatus.REGISTERED
    )
    # 首问负责人: the worker who first received the matter; owner until it closes.
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="received_tickets",
        verbose_name=_("首问负责人"),
    )
    team = models.ForeignKey(
        Org,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="team_tickets",
        verbose_name=_("承办队伍"),
    )
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("派单时间"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    due_date = models.DateField(_("办理期限"), null=True, blank=True)
    extension_days = models.PositiveSmallIntegerField(_("已延期（工作日）"), default=0)
    extension_requested_days = models.PositiveSmallIntegerField(_("申请延期（工作日）"), default=0)
    extension_reason = models.CharField(_("延期理由"), max_length=300, blank=True)
    escalation_level = models.PositiveSmallIntegerField(
        _("督办级别"), choices=EscalationLevel.choices, default=EscalationLevel.NONE
    )
    escalated_at = models.DateTimeField(_("督办时间"), null=True, blank=True)
    result = models.TextField(_("办理结果"), max_length=2000, blank=True)
    resolved_at = models.DateTimeField(_("反馈时间"), null=True, blank=True)
    rating = models.PositiveSmallIntegerField(_("满意度评分"), null=True, blank=True)
    rating_comment = models.CharField(_("评价"), max_length=300, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    close_reason = models.CharField(
        _("办结方式"), max_length=12, choices=CloseReason.choices, blank=True
    )
    closed_on_time = models.BooleanField(_("按时办结"), null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
        verbose_name=_("并入工单"),
    )
    return_count = models.PositiveSmallIntegerField(_("回退次数"), default=0)
    reopen_count = models.PositiveSmallIntegerField(_("退回重办次数"), default=0)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = TicketQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("工单")
        verbose_name_plural = _("工单")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["org", "status"]),
            models.Index(fields=["status", "due_date"]),
            models.Index(fields=["team", "status"]),
            models.Index(fields=["source_hash", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="ticket_rating_1_5",
            ),
            models.CheckConstraint(
                condition=Q(extension_days__lte=10), name="ticket_extension_max_10"
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(closed_at__isnull=False),
                name="ticket_closed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def audit_org(self) -> Org:
        return self.org

    @property
    def is_closed(self) -> bool:
        return self.status == TicketStatus.CLOSED

    @property
    def is_public(self) -> bool:
        return self.matter_type.is_public

    @property
    def contact_phone(self) -> str:
        from huzhu.common.crypto import decrypt

        return decrypt(self.contact_phone_encrypted) if self.contact_phone_encrypted else ""


class TicketEvent(models.Model):
    """One step of a ticket, never edited. ``is_public`` notes become Open311 status notes."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    verb = models.CharField(_("操作"), max_length=30)
    from_status = models.CharField(max_length=12, choices=TicketStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=TicketStatus.choices, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(_("操作人"), max_length=150, blank=True)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    is_public = models.BooleanField(default=False)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("工单处理记录")
        verbose_name_plural = _("工单处理记录")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.verb}"


class PhotoKind(models.TextChoices):
    REPORT = "report", _("反映照片")
    RESULT = "result", _("处理结果照片")


class TicketPhoto(models.Model):
    """A photo, re-encoded as JPEG at most ``HUZHU_DESK_PHOTO_MAX_PX`` wide with no EXIF.
    Report photos are shown to the public only once a worker has looked at them."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="photos")
    kind = models.CharField(max_length=10, choices=PhotoKind.choices, default=PhotoKind.REPORT)
    image = models.FileField(upload_to="desk/photos/%Y/%m/")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    is_public = models.BooleanField(_("公开"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("工单照片")
        verbose_name_plural = _("工单照片")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.pk}"


class PatrolTeam(models.Model):
    """The patrol team (巡查队) civic reports of a grid go to."""

    grid = models.OneToOneField(
        Org, on_delete=models.CASCADE, related_name="patrol", verbose_name=_("网格")
    )
    team = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="patrolled_grids", verbose_name=_("巡查队")
    )

    objects = ScopedQuerySet.as_manager()
    scope_path = "grid__path"

    class Meta:
        verbose_name = _("网格巡查队")
        verbose_name_plural = _("网格巡查队")

    def __str__(self) -> str:
        return f"{self.grid} → {self.team}"


class PublicContact(models.Model):
    """A contact a community publishes on its public page (网格员, 社区民警 …), entered by the
    community with the person's agreement — never taken from the register."""

    org = models.ForeignKey(
        Org, on_delete=models.CASCADE, related_name="public_contacts", verbose_name=_("社区/网格")
    )
    role = models.CharField(_("职责"), max_length=30, default="网格员")
    name = models.CharField(_("姓名"), max_length=30)
    phone = models.CharField(_("工作电话"), max_length=30)
    sort_order = models.IntegerField(_("排序"), default=0)

    objects = ScopedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("公开联系人")
        verbose_name_plural = _("公开联系人")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return f"{self.role} {self.name}"

    @property
    def audit_org(self) -> Org:
        return self.org


class NoticeKind(models.TextChoices):
    GOOD_DEED = "good_deed", _("好人好事")
    EXEMPLARY = "exemplary", _("典型事迹")
    UNCIVIL = "uncivil", _("不文明行为")
    NOTICE = "notice", _("社区公告")


class NoticeStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    PUBLISHED = "published", _("已发布")
    REJECTED = "rejected", _("未通过")
    WITHDRAWN = "withdrawn", _("已撤下")


class Notice(models.Model):
    """A post on the community's moral evaluation board (道德评议栏) or notice board.
    Uncivil behaviour names places and kinds, never private persons; an exemplary volunteer
    is named only with their recorded consent."""

    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="notices", verbose_name=_("社区")
    )
    kind = models.CharField(_("栏目"), max_length=10, choices=NoticeKind.choices)
    title = models.CharField(_("标题"), max_length=60)
    body = models.TextField(_("内容"), max_length=3000)
    place = models.CharField(_("地点"), max_length=100, blank=True)
    volunteer = models.ForeignKey(
        "volunteers.Volunteer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notices",
        verbose_name=_("志愿者"),
    )
    consent_at = models.DateTimeField(_("同意署名时间"), null=True, blank=True)
    consent_note = models.CharField(_("同意方式"), max_length=100, blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=NoticeStatus.choices, default=NoticeStatus.PENDING
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("投稿人"),
    )
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("审核人"),
    )
    moderated_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    moderation_note = models.CharField(_("审核意见"), max_length=200, blank=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("投稿时间"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("公示内容")
        verbose_name_plural = _("公示栏")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org", "status", "kind"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="exemplary")
                | Q(volunteer__isnull=True)
                | Q(consent_at__isnull=False),
                name="notice_named_volunteer_consented",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def audit_org(self) -> Org:
        return self.org


class SuggestionStatus(models.TextChoices):
    RECEIVED = "received", _("已收到")
    REPLIED = "replied", _("已答复")
    ADOPTED = "adopted", _("已采纳")
    PARTLY = "partly", _("部分采纳")
    NOT_ADOPTED = "not_adopted", _("暂不采纳")


class Suggestion(models.Model):
    """献良策: a resident's suggestion, the community's reply and whether it was adopted."""

    number = models.CharField(_("编号"), max_length=20, unique=True)
    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="suggestions", verbose_name=_("社区")
    )
    author = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="suggestions",
        verbose_name=_("建议人"),
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    title = models.CharField(_("标题"), max_length=60)
    body = models.TextField(_("建议内容"), max_length=3000)
    author_public = models.BooleanField(_("愿意公开姓名"), default=False)
    is_public = models.BooleanField(_("公开答复"), default=False)
    status = models.CharField(
        _("状态"),
        max_length=12,
        choices=SuggestionStatus.choices,
        default=SuggestionStatus.RECEIVED,
    )
    reply = models.TextField(_("答复"), max_length=2000, blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("答复人"),
    )
    replied_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    source_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("建议")
        verbose_name_plural = _("献良策")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def audit_org(self) -> Org:
        return self.org


class AppKey(models.Model):
    """An application key an administrator issues to an Open311 client (e.g. a street's
    WeChat mini-program). Requests it posts go to communities under ``org``. Only a SHA-256
    of the key is stored; the key is shown once."""

    name = models.CharField(_("应用名称"), max_length=100)
    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="app_keys", verbose_name=_("适用范围")
    )
    prefix = models.CharField(_("前缀"), max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("签发人"),
    )
    created_at = models.DateTimeField(_("签发时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("Open311 应用密钥")
        verbose_name_plural = _("Open311 应用密钥")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} {self.prefix}…"

    @property
    def audit_org(self) -> Org:
        return self.org
