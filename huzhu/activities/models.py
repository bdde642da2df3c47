"""Activities, shifts, sign-ups and attendance, service records and certificates.

DOMAIN.md §4: a service record holds the volunteer, the service (content, place, date,
duration) and its evaluation; whoever records the service certifies it (谁记录谁证明). Hours are
kept in integer minutes and exclude travel: only time between check-in and check-out inside
the shift counts.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from huzhu.common import crypto
from huzhu.common.identity import mask_phone
from huzhu.orgs.models import Org
from huzhu.orgs.scope import ScopedQuerySet
from huzhu.volunteers.models import (
    QualificationType,
    ServedGroup,
    ServiceCategory,
    Skill,
    Volunteer,
)

MINUTES_PER_DAY = 24 * 60


class ActivityStatus(models.TextChoices):
    PENDING = "pending", _("待启动")
    RECRUITING = "recruiting", _("招募中")
    RUNNING = "running", _("进行中")
    CLOSED = "closed", _("已结项")
    CANCELLED = "cancelled", _("已取消")


class Recruitment(models.TextChoices):
    OPEN = "open", _("公开招募")
    TEAM = "team", _("仅限本队")
    CODE = "code", _("凭邀请码")


class SignupMode(models.TextChoices):
    INSTANT = "instant", _("报名即成功")
    CONFIRM = "confirm", _("报名后审核")


class Rounding(models.TextChoices):
    DOWN = "down", _("向下取整")
    NEAREST = "nearest", _("四舍五入")
    UP = "up", _("向上取整")


class Activity(models.Model):
    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="activities", verbose_name=_("组织单位")
    )
    title = models.CharField(_("活动名称"), max_length=100)
    category = models.ForeignKey(
        ServiceCategory, on_delete=models.PROTECT, related_name="+", verbose_name=_("服务类别")
    )
    served_groups = models.ManyToManyField(
        ServedGroup, blank=True, related_name="+", verbose_name=_("服务对象")
    )
    description = models.TextField(_("活动内容"), blank=True)
    address = models.CharField(_("活动地点"), max_length=200)
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(
        _("经度"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    required_skills = models.ManyToManyField(
        Skill, blank=True, related_name="+", verbose_name=_("所需技能")
    )
    required_qualifications = models.ManyToManyField(
        QualificationType, blank=True, related_name="+", verbose_name=_("所需资质")
    )
    min_age = models.PositiveSmallIntegerField(_("最低年龄"), default=0)
    is_risky = models.BooleanField(_("有风险（需保险，未成年人不得参加）"), default=False)
    insurer = models.CharField(_("承保机构"), max_length=100, blank=True)
    insurance_policy = models.CharField(_("保单号"), max_length=60, blank=True)
    recruitment = models.CharField(
        _("招募方式"), max_length=8, choices=Recruitment.choices, default=Recruitment.OPEN
    )
    invite_code = models.CharField(_("邀请码"), max_length=12, blank=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=ActivityStatus.choices, default=ActivityStatus.PENDING
    )
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    # The contact's number is personal data: stored encrypted, shown masked until a volunteer
    # has signed up (``contact_phone`` decrypts; assigning to it encrypts and masks).
    contact_phone_encrypted = models.TextField(blank=True, editable=False)
    contact_phone_masked = models.CharField(
        _("联系电话"), max_length=20, blank=True, editable=False
    )
    # Check-in may be refused farther than this from the place (metres; empty: no check).
    checkin_radius_m = models.PositiveIntegerField(_("签到距离限制（米）"), null=True, blank=True)
    rounding_minutes = models.PositiveSmallIntegerField(_("时长取整单位（分钟）"), default=15)
    rounding = models.CharField(
        _("取整方式"), max_length=8, choices=Rounding.choices, default=Rounding.DOWN
    )
    withdraw_hours_before = models.PositiveSmallIntegerField(
        _("开始前多少小时可取消报名"), default=2
    )
    beneficiary_count = models.PositiveIntegerField(_("服务对象人次"), default=0)
    # 团体时长: the time-bank credit of this (team) activity goes to the team's account,
    # which may only donate it (DOMAIN.md §5); the volunteers' hours are still recorded.
    credit_team = models.BooleanField(_("时间币记入服务队（团体时长）"), default=False)
    # Recurrence: shifts on these weekdays (bit 0 = Monday) from ``starts_on`` until
    # ``ends_on``, created ahead by the periodic job so nobody copies activities by hand.
    recur_weekdays = models.PositiveSmallIntegerField(_("每周重复"), default=0)
    recur_start = models.TimeField(_("重复班次开始时间"), null=True, blank=True)
    recur_end = models.TimeField(_("重复班次结束时间"), null=True, blank=True)
    recur_capacity = models.PositiveIntegerField(_("重复班次名额"), null=True, blank=True)
    recur_skip_holidays = models.BooleanField(_("节假日不排班"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("志愿活动")
        verbose_name_plural = _("志愿活动")
        ordering = ["-starts_on", "-id"]
        indexes = [models.Index(fields=["status", "starts_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="activity_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(is_risky=False) | ~Q(insurance_policy=""),
                name="activity_risky_needs_insurance",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def contact_phone(self) -> str:
        return crypto.decrypt(self.contact_phone_encrypted) if self.contact_phone_encrypted else ""

    @contact_phone.setter
    def contact_phone(self, value: str) -> None:
        value = (value or "").strip()
        self.contact_phone_encrypted = crypto.encrypt(value) if value else ""
        self.contact_phone_masked = mask_phone(value) if value else ""

    @property
    def audit_org(self) -> Org:
        return self.org

    @property
    def is_recurring(self) -> bool:
        return bool(self.recur_weekdays)


class Shift(models.Model):
    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="shifts")
    name = models.CharField(_("班次名称"), max_length=50, blank=True)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    capacity = models.PositiveIntegerField(_("名额"))
    signup_mode = models.CharField(
        _("报名方式"), max_length=8, choices=SignupMode.choices, default=SignupMode.INSTANT
    )
    # Kept in step with the sign-ups under the shift's row lock (capacity is enforced here).
    confirmed_count = models.PositiveIntegerField(_("已报名"), default=0)
    checkin_code = models.CharField(_("签到码"), max_length=6)
    qr_secret = models.CharField(max_length=64, editable=False)
    checkin_opens_minutes = models.PositiveSmallIntegerField(_("提前多少分钟可签到"), default=30)
    checkout_closes_minutes = models.PositiveSmallIntegerField(
        _("结束后多少分钟内可签退"), default=120
    )
    is_cancelled = models.BooleanField(_("已取消"), default=False)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    records_created_at = models.DateTimeField(_("时长已生成"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "activity__org__path"

    class Meta:
        verbose_name = _("班次")
        verbose_name_plural = _("班次")
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["starts_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="shift_ends_after_start"
            ),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="shift_capacity_positive"),
            models.CheckConstraint(
                condition=Q(confirmed_count__lte=F("capacity")), name="shift_within_capacity"
            ),
            models.UniqueConstraint(fields=["activity", "starts_at"], name="shift_unique_start"),
        ]

    def __str__(self) -> str:
        return f"{self.activity.title} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def audit_org(self) -> Org:
        return self.activity.org

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.confirmed_count, 0)


class SignupStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    CONFIRMED = "confirmed", _("已报名")
    WAITLISTED = "waitlisted", _("候补")
    WITHDRAWN = "withdrawn", _("已取消")
    REJECTED = "rejected", _("未通过")
    CANCELLED = "cancelled", _("活动取消")


ACTIVE_SIGNUP = (SignupStatus.PENDING, SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)


class Attendance(models.TextChoices):
    NONE = "", _("未签到")
    PRESENT = "present", _("已签到")
    NO_SHOW = "no_show", _("缺席")


class CheckMethod(models.TextChoices):
    QR = "qr", _("扫码")
    CODE = "code", _("签到码")
    ORGANISER = "organiser", _("组织者代签")
    API = "api", _("小程序")


class Signup(models.Model):
    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="signups")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="signups")
    status = models.CharField(_("报名状态"), max_length=12, choices=SignupStatus.choices)
    # Waiting-list order: earliest first.
    queued_at = models.DateTimeField(_("报名时间"))
    status_changed_at = models.DateTimeField(auto_now=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    attendance = models.CharField(
        _("出勤"), max_length=8, choices=Attendance.choices, default=Attendance.NONE, blank=True
    )
    checked_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)
    checked_out_at = models.DateTimeField(_("签退时间"), null=True, blank=True)
    check_in_method = models.CharField(max_length=10, choices=CheckMethod.choices, blank=True)
    check_out_method = models.CharField(max_length=10, choices=CheckMethod.choices, blank=True)
    check_in_distance_m = models.PositiveIntegerField(null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "shift__activity__org__path"

    class Meta:
        verbose_name = _("报名")
        verbose_name_plural = _("报名")
        ordering = ["queued_at", "id"]
        indexes = [
            models.Index(fields=["shift", "status", "queued_at"]),
            models.Index(fields=["volunteer", "status"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["shift", "volunteer"], name="signup_once_per_shift"),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True)
                | Q(checked_in_at__isnull=False, checked_out_at__gte=F("checked_in_at")),
                name="signup_checkout_after_checkin",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer} @ {self.shift}"

    @property
    def audit_org(self) -> Org:
        return self.shift.activity.org


class AttendanceCorrection(models.Model):
    """An organiser changed check-in/out times; the reason is kept."""

    signup = models.ForeignKey(Signup, on_delete=models.CASCADE, related_name="corrections")
    old_in = models.DateTimeField(null=True, blank=True)
    old_out = models.DateTimeField(null=True, blank=True)
    new_in = models.DateTimeField(null=True, blank=True)
    new_out = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(_("更正原因"), max_length=200)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("签到更正")
        verbose_name_plural = _("签到更正")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.reason


class RecordStatus(models.TextChoices):
    PENDING = "pending", _("待确认")
    CONFIRMED = "confirmed", _("已确认")
    REJECTED = "rejected", _("已退回")
    REVOKED = "revoked", _("已撤销")


class RecordSource(models.TextChoices):
    ATTENDANCE = "attendance", _("活动签到")
    DECLARED = "declared", _("本人申报")
    ENTERED = "entered", _("组织录入")
    NEED = "need", _("需求对接")


class RecordRating(models.IntegerChoices):
    EXCELLENT = 5, _("优秀")
    GOOD = 4, _("良好")
    PASS = 3, _("合格")
    POOR = 1, _("不合格")


class ServiceRecord(models.Model):
    """志愿服务记录 (Order 67 Art. 3–4). ``org`` recorded it and certifies it."""

    # Foreign keys led by a composite index below carry no index of their own, nor do the
    # rarely searched ones: fewer indexes make the batch confirmation of a shift cheaper.
    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.PROTECT, related_name="service_records", db_index=False
    )
    org = models.ForeignKey(
        Org,
        on_delete=models.PROTECT,
        related_name="service_records",
        verbose_name=_("记录单位"),
        db_index=False,
    )
    activity = models.ForeignKey(
        Activity, null=True, blank=True, on_delete=models.PROTECT, related_name="records"
    )
    shift = models.ForeignKey(
        Shift,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="records",
        db_index=False,
    )
    signup = models.OneToOneField(
        Signup, null=True, blank=True, on_delete=models.PROTECT, related_name="record"
    )
    category = models.ForeignKey(
        ServiceCategory,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("服务类别"),
        db_index=False,
    )
    served_on = models.DateField(_("服务日期"))
    place = models.CharField(_("服务地点"), max_length=200)
    content = models.CharField(_("服务内容"), max_length=300)
    minutes = models.PositiveIntegerField(_("服务时长（分钟）"))
    rating = models.PositiveSmallIntegerField(
        _("服务评价"), choices=RecordRating.choices, null=True, blank=True
    )
    evaluation = models.CharField(_("评语"), max_length=200, blank=True)
    source = models.CharField(_("来源"), max_length=12, choices=RecordSource.choices)
    status = models.CharField(
        _("状态"), max_length=10, choices=RecordStatus.choices, default=RecordStatus.PENDING
    )
    recorder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("记录人"),
        db_index=False,
    )
    confirmer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("确认人"),
        db_index=False,
    )
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    reject_reason = models.CharField(_("退回原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("志愿服务记录")
        verbose_name_plural = _("志愿服务记录")
        ordering = ["-served_on", "-id"]
        indexes = [
            models.Index(fields=["volunteer", "status", "served_on"]),
            models.Index(fields=["org", "status", "served_on"]),
            models.Index(fields=["shift", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes__gte=1, minutes__lte=MINUTES_PER_DAY),
                name="record_minutes_within_a_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.served_on} {self.content}"

    @property
    def audit_org(self) -> Org:
        return self.org

    @property
    def hours(self) -> str:
        from huzhu.volunteers.archive_selectors import format_hours

        return format_hours(self.minutes)


class RecordCorrection(models.Model):
    """更正: a confirmed record changed, with what it was and why."""

    record = models.ForeignKey(ServiceRecord, on_delete=models.CASCADE, related_name="corrections")
    old_minutes = models.PositiveIntegerField()
    new_minutes = models.PositiveIntegerField()
    old_values = models.JSONField(default=dict)
    reason = models.CharField(_("更正原因"), max_length=200)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("服务记录更正")
        verbose_name_plural = _("服务记录更正")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.reason


class CertificateStatus(models.TextChoices):
    APPLIED = "applied", _("已申请")
    ISSUED = "issued", _("已开具")
    REJECTED = "rejected", _("不予开具")
    REVOKED = "revoked", _("已撤销")


class Certificate(models.Model):
    """志愿服务证明: applied for by the volunteer (申请), accepted and issued (受理 → 开具) free
    by the recording org. What it certifies is frozen in ``snapshot`` when issued."""

    number = models.CharField(_("证明编号"), max_length=30, unique=True, null=True, blank=True)
    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="certificates")
    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="certificates", verbose_name=_("出具单位")
    )
    period_from = models.DateField(_("服务期间自"))
    period_to = models.DateField(_("服务期间至"))
    purpose = models.CharField(_("用途"), max_length=100, blank=True)
    status = models.CharField(
        _("状态"),
        max_length=10,
        choices=CertificateStatus.choices,
        default=CertificateStatus.APPLIED,
    )
    total_minutes = models.PositiveIntegerField(_("服务总时长（分钟）"), default=0)
    record_count = models.PositiveIntegerField(_("服务记录数"), default=0)
    snapshot = models.JSONField(default=dict, editable=False)
    applied_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField(_("开具时间"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.CharField(_("说明"), max_length=200, blank=True)
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("志愿服务证明")
        verbose_name_plural = _("志愿服务证明")
        ordering = ["-applied_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_to__gte=F("period_from")), name="certificate_period_order"
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"

    @property
    def audit_org(self) -> Org:
        return self.org

    @property
    def total_hours(self) -> str:
        from huzhu.volunteers.archive_selectors import format_hours

        return format_hours(self.total_minutes)
