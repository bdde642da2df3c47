"""The volunteer register and archive (志愿者注册登记与档案管理).

A ``Volunteer`` is the registration of one ``Person`` (one person, one registration). The
classification lists (service categories, people served, skills, qualification types) are
data that administrators edit. Hours are kept in integer minutes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.orgs.models import Org
from huzhu.orgs.scope import ScopedQuerySet
from huzhu.people.models import Person


class VolunteerStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    REGISTERED = "registered", _("已注册")
    SUSPENDED = "suspended", _("暂停")
    CANCELLED = "cancelled", _("注销")
    REJECTED = "rejected", _("未通过")


class PoliticalStatus(models.TextChoices):
    CPC_MEMBER = "cpc_member", _("中共党员")
    CPC_PROBATIONARY = "cpc_probationary", _("中共预备党员")
    CYL_MEMBER = "cyl_member", _("共青团员")
    DEMOCRATIC_PARTY = "democratic_party", _("民主党派")
    MASSES = "masses", _("群众")


class RegistrationSource(models.TextChoices):
    SELF = "self", _("本人注册")
    WORKER = "worker", _("工作人员代录")
    IMPORT = "import", _("名册导入")


class ClassificationItem(models.Model):
    """Shared shape of an editable classification list."""

    name = models.CharField(_("名称"), max_length=30, unique=True)
    sort_order = models.IntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        abstract = True
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class ServiceCategory(ClassificationItem):
    class Meta(ClassificationItem.Meta):
        verbose_name = _("服务类别")
        verbose_name_plural = _("服务类别")


class ServedGroup(ClassificationItem):
    class Meta(ClassificationItem.Meta):
        verbose_name = _("服务对象")
        verbose_name_plural = _("服务对象")


class Skill(ClassificationItem):
    is_curated = models.BooleanField(_("常用技能"), default=False)

    class Meta(ClassificationItem.Meta):
        verbose_name = _("技能")
        verbose_name_plural = _("技能")


class QualificationType(ClassificationItem):
    validity_months = models.PositiveSmallIntegerField(_("有效期（月）"), null=True, blank=True)
    remind_days_before = models.PositiveSmallIntegerField(_("提前提醒天数"), default=30)

    class Meta(ClassificationItem.Meta):
        verbose_name = _("资格证书类型")
        verbose_name_plural = _("资格证书类型")


class VolunteerQuerySet(ScopedQuerySet):
    pass


class Volunteer(models.Model):
    person = models.OneToOneField(
        Person, on_delete=models.PROTECT, related_name="volunteer", verbose_name=_("居民")
    )
    number = models.CharField(_("志愿者编号"), max_length=20, unique=True)
    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="volunteers", verbose_name=_("所属社区")
    )
    status = models.CharField(
        _("状态"), max_length=12, choices=VolunteerStatus.choices, default=VolunteerStatus.PENDING
    )
    status_reason = models.CharField(_("状态说明"), max_length=200, blank=True)
    source = models.CharField(
        _("登记方式"),
        max_length=10,
        choices=RegistrationSource.choices,
        default=RegistrationSource.SELF,
    )
    political_status = models.CharField(
        _("政治面貌"),
        max_length=20,
        choices=PoliticalStatus.choices,
        default=PoliticalStatus.MASSES,
    )
    skills = models.ManyToManyField(
        Skill, blank=True, related_name="volunteers", verbose_name=_("技能特长")
    )
    categories = models.ManyToManyField(
        ServiceCategory, blank=True, related_name="volunteers", verbose_name=_("服务类别")
    )
    served_groups = models.ManyToManyField(
        ServedGroup, blank=True, related_name="volunteers", verbose_name=_("服务对象")
    )
    # Weekly availability as a bit mask: bit (day * 3 + period), day 0 = Monday,
    # period 0/1/2 = morning/afternoon/evening (see volunteers.availability).
    availability = models.PositiveIntegerField(_("可服务时间"), default=0)
    publish_name = models.BooleanField(_("同意公开姓名"), default=False)
    guardian_name = models.CharField(_("监护人姓名"), max_length=50, blank=True)
    guardian_phone_encrypted = models.TextField(blank=True, editable=False)
    guardian_phone_masked = models.CharField(
        _("监护人电话"), max_length=11, blank=True, editable=False
    )
    guardian_consent_at = models.DateTimeField(_("监护人同意时间"), null=True, blank=True)
    historical_minutes = models.PositiveIntegerField(_("历史服务时长（分钟）"), default=0)
    recorded_minutes = models.PositiveIntegerField(_("累计服务时长（分钟）"), default=0)
    star_level = models.PositiveSmallIntegerField(_("星级"), default=0)
    star_barred_until = models.DateField(_("星级认定限制至"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("审核人"),
    )
    approved_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    notes = models.TextField(_("备注"), blank=True)
    # Mixed into the calendar feed token (activities.ical); a new key revokes the old feed
    # address. Empty until the volunteer's first reset (tokens made without a key). The
    # database default serves bulk loaders that name their columns (benchmarks).
    feed_key = models.CharField(
        _("日历订阅密钥"), max_length=32, blank=True, default="", db_default="", editable=False
    )
    registered_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VolunteerQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("志愿者")
        verbose_name_plural = _("志愿者")
        ordering = ["number"]
        indexes = [
            models.Index(fields=["org", "status"]),
            models.Index(fields=["status", "star_level"]),
            models.Index(fields=["star_level", "recorded_minutes"]),
            models.Index(fields=["org", "star_level"]),
            models.Index(fields=["political_status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(star_level__gte=0, star_level__lte=5), name="volunteer_star_0_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person.name}（{self.number}）"

    @property
    def audit_org(self) -> Org:
        return self.org

    @property
    def recorded_hours(self) -> float:
        return round(self.recorded_minutes / 60, 1)


class VolunteerStatusChange(models.Model):
    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(max_length=12, choices=VolunteerStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=VolunteerStatus.choices)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("注册状态变更")
        verbose_name_plural = _("注册状态变更")

    def __str__(self) -> str:
        return f"{self.volunteer_id}: {self.from_status} → {self.to_status}"


class TeamProfile(models.Model):
    """What a 服务队 (an Org of kind team) does."""

    org = models.OneToOneField(Org, on_delete=models.CASCADE, related_name="team_profile")
    category = models.ForeignKey(
        ServiceCategory,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("服务类别"),
    )
    description = models.TextField(_("简介"), blank=True)
    is_recruiting = models.BooleanField(_("正在招募"), default=True)

    class Meta:
        verbose_name = _("服务队信息")
        verbose_name_plural = _("服务队信息")

    def __str__(self) -> str:
        return self.org.name


class TeamRole(models.TextChoices):
    MEMBER = "member", _("队员")
    DEPUTY = "deputy", _("副队长")
    LEADER = "leader", _("队长")


class TeamMembership(models.Model):
    team = models.ForeignKey(
        Org, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("服务队")
    )
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(
        _("职务"), max_length=10, choices=TeamRole.choices, default=TeamRole.MEMBER
    )
    joined_on = models.DateField(_("加入日期"))
    left_on = models.DateField(_("退出日期"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "team__path"

    class Meta:
        verbose_name = _("服务队成员")
        verbose_name_plural = _("服务队成员")
        constraints = [
            models.UniqueConstraint(
                fields=["team", "volunteer"],
                condition=Q(left_on__isnull=True),
                name="team_membership_active_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team_id}/{self.volunteer_id} {self.role}"

    @property
    def audit_org(self) -> Org:
        return self.team


class Course(models.Model):
    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="courses", verbose_name=_("主办组织")
    )
    name = models.CharField(_("课程名称"), max_length=100)
    category = models.ForeignKey(
        ServiceCategory,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("服务类别"),
    )
    minutes = models.PositiveIntegerField(_("学时（分钟）"), default=120)
    grants_qualification = models.ForeignKey(
        QualificationType,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("结业后取得资格"),
    )
    description = models.TextField(_("简介"), blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("培训课程")
        verbose_name_plural = _("培训课程")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_org(self) -> Org:
        return self.org


class TrainingSession(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="sessions")
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    place = models.CharField(_("地点"), max_length=200, blank=True)
    trainer = models.CharField(_("授课人"), max_length=100, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "course__org__path"

    class Meta:
        verbose_name = _("培训场次")
        verbose_name_plural = _("培训场次")
        ordering = ["-starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="training_session_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.course.name} {self.starts_at:%Y-%m-%d}"

    @property
    def audit_org(self) -> Org:
        return self.course.org


class TrainingAttendance(models.Model):
    session = models.ForeignKey(
        TrainingSession, on_delete=models.CASCADE, related_name="attendances"
    )
    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.CASCADE, related_name="training_attendances"
    )
    attended = models.BooleanField(_("出勤"), default=True)
    minutes = models.PositiveIntegerField(_("学时（分钟）"), default=0)
    passed = models.BooleanField(_("考核合格"), default=True)

    class Meta:
        verbose_name = _("培训出勤")
        verbose_name_plural = _("培训出勤")
        constraints = [
            models.UniqueConstraint(
                fields=["session", "volunteer"], name="training_attendance_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.volunteer_id}"


class Qualification(models.Model):
    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.CASCADE, related_name="qualifications"
    )
    kind = models.ForeignKey(
        QualificationType, on_delete=models.PROTECT, verbose_name=_("证书类型")
    )
    certificate_no = models.CharField(_("证书编号"), max_length=60, blank=True)
    issuer = models.CharField(_("发证机构"), max_length=100, blank=True)
    issued_on = models.DateField(_("发证日期"))
    expires_on = models.DateField(_("有效期至"), null=True, blank=True)
    reminded_on = models.DateField(_("到期提醒日期"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "volunteer__org__path"

    class Meta:
        verbose_name = _("资格证书")
        verbose_name_plural = _("资格证书")
        ordering = ["-issued_on", "id"]
        indexes = [models.Index(fields=["kind", "expires_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=models.F("issued_on")),
                name="qualification_expires_after_issue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind.name} {self.certificate_no}".strip()

    @property
    def audit_org(self) -> Org:
        return self.volunteer.org


class HonourLevel(models.TextChoices):
    COMMUNITY = "community", _("社区级")
    STREET = "street", _("街道级")
    DISTRICT = "district", _("区级")
    CITY = "city", _("市级")
    PROVINCE = "province", _("省级")
    NATIONAL = "national", _("国家级")


class Honour(models.Model):
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="honours")
    title = models.CharField(_("荣誉名称"), max_length=100)
    level = models.CharField(
        _("级别"), max_length=10, choices=HonourLevel.choices, default=HonourLevel.COMMUNITY
    )
    awarded_by = models.CharField(_("授予单位"), max_length=100)
    awarded_on = models.DateField(_("授予日期"))

    objects = ScopedQuerySet.as_manager()
    scope_path = "volunteer__org__path"

    class Meta:
        verbose_name = _("荣誉")
        verbose_name_plural = _("荣誉")
        ordering = ["-awarded_on", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def audit_org(self) -> Org:
        return self.volunteer.org


class EvaluationGrade(models.TextChoices):
    EXCELLENT = "excellent", _("优秀")
    GOOD = "good", _("良好")
    PASS = "pass", _("合格")
    FAIL = "fail", _("不合格")


class Evaluation(models.Model):
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="evaluations")
    year = models.PositiveSmallIntegerField(_("年度"))
    grade = models.CharField(_("评价等级"), max_length=10, choices=EvaluationGrade.choices)
    comment = models.TextField(_("评语"), blank=True)
    evaluator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("评价人"),
    )
    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="+", verbose_name=_("评价组织")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "volunteer__org__path"

    class Meta:
        verbose_name = _("评价")
        verbose_name_plural = _("评价")
        ordering = ["-year", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["volunteer", "year", "org"], name="evaluation_once_per_year_and_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.get_grade_display()}"

    @property
    def audit_org(self) -> Org:
        return self.volunteer.org


class StarStatus(models.TextChoices):
    APPLIED = "applied", _("已申请")
    PUBLICISING = "publicising", _("公示中")
    GRANTED = "granted", _("已认定")
    REJECTED = "rejected", _("未通过")
    WITHDRAWN = "withdrawn", _("已撤回")


class StarApplication(models.Model):
    """Application for a star: applied → publicised for N working days → granted."""

    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.CASCADE, related_name="star_applications"
    )
    level = models.PositiveSmallIntegerField(_("申请星级"))
    status = models.CharField(
        _("状态"), max_length=12, choices=StarStatus.choices, default=StarStatus.APPLIED
    )
    minutes_at_application = models.PositiveIntegerField(_("申请时累计时长（分钟）"))
    applied_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    publicity_starts_on = models.DateField(_("公示开始"), null=True, blank=True)
    publicity_ends_on = models.DateField(_("公示截止"), null=True, blank=True)
    calendar_warning = models.CharField(max_length=200, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("认定人"),
    )
    decided_at = models.DateTimeField(_("认定时间"), null=True, blank=True)
    decision_reason = models.CharField(_("说明"), max_length=200, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_path = "volunteer__org__path"

    class Meta:
        verbose_name = _("星级申请")
        verbose_name_plural = _("星级申请")
        ordering = ["-applied_at", "-id"]
        indexes = [models.Index(fields=["status", "publicity_ends_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__gte=1, level__lte=5), name="star_application_level_1_5"
            ),
            models.UniqueConstraint(
                fields=["volunteer"],
                condition=Q(status__in=["applied", "publicising"]),
                name="star_application_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer_id} ★{self.level} {self.get_status_display()}"

    @property
    def audit_org(self) -> Org:
        return self.volunteer.org
