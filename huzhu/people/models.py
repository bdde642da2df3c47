"""``Person``: the one real-name record of a human (DESIGN.md §3).

The ID number and phone are stored only encrypted, beside a keyed hash for exact lookups
and a masked form for display. Gender and birth date are derived from the ID number.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.common import crypto
from huzhu.orgs.models import Org
from huzhu.orgs.scope import ScopedQuerySet


class Gender(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class ResidenceStatus(models.TextChoices):
    ACTIVE = "active", _("在册")
    MOVED_OUT = "moved_out", _("已迁出")
    DECEASED = "deceased", _("已故")


class TagCategory(models.TextChoices):
    ELDERLY = "elderly", _("老年人")
    DIFFICULTY = "difficulty", _("困难群体")
    SPECIAL_CARE = "special_care", _("优抚与关爱")
    OTHER = "other", _("其他")


class Tag(models.Model):
    """A label on residents (独居老人, 残疾, 低保 …); the list is data an admin edits."""

    name = models.CharField(_("名称"), max_length=30, unique=True)
    category = models.CharField(
        _("类别"), max_length=20, choices=TagCategory.choices, default=TagCategory.OTHER
    )
    description = models.CharField(_("说明"), max_length=200, blank=True)
    is_sensitive = models.BooleanField(
        _("敏感信息"), default=False, help_text=_("如残疾、低保等，仅有权限的工作人员可见")
    )
    sort_order = models.IntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("居民标签")
        verbose_name_plural = _("居民标签")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class PersonQuerySet(ScopedQuerySet):
    def search(self, text: str) -> PersonQuerySet:
        """Name, pinyin initials, full pinyin, or the visible suffix of the masked ID."""
        text = text.strip()
        if not text:
            return self
        lowered = text.lower()
        condition = Q(name__contains=text)
        if lowered.isascii() and lowered.isalpha():
            condition |= Q(name_initials__startswith=lowered) | Q(name_pinyin__startswith=lowered)
        if len(text) <= 4 and text[:-1].isdigit() and (text[-1].isdigit() or text[-1] in "xX"):
            condition |= Q(id_number_masked__endswith=text.upper())
        return self.filter(condition)


class Person(models.Model):
    org = models.ForeignKey(
        Org, on_delete=models.PROTECT, related_name="people", verbose_name=_("所属社区/网格")
    )
    name = models.CharField(_("姓名"), max_length=50)
    name_initials = models.CharField(_("拼音首字母"), max_length=50, db_index=True, editable=False)
    name_pinyin = models.CharField(_("拼音"), max_length=200, db_index=True, editable=False)
    id_number_encrypted = models.TextField(editable=False)
    id_number_hash = models.CharField(max_length=64, editable=False)
    id_number_masked = models.CharField(_("身份证号"), max_length=18, editable=False)
    gender = models.CharField(_("性别"), max_length=1, choices=Gender.choices, editable=False)
    birth_date = models.DateField(_("出生日期"), editable=False)
    phone_encrypted = models.TextField(blank=True, editable=False)
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    phone_masked = models.CharField(_("手机号"), max_length=11, blank=True, editable=False)
    address = models.CharField(_("住址"), max_length=200, blank=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=ResidenceStatus.choices, default=ResidenceStatus.ACTIVE
    )
    notes = models.TextField(_("备注"), blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="people", verbose_name=_("标签"))
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
        verbose_name=_("登录账号"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PersonQuerySet.as_manager()
    scope_path = "org__path"

    class Meta:
        verbose_name = _("居民")
        verbose_name_plural = _("居民")
        ordering = ["name_pinyin", "id"]
        constraints = [
            models.UniqueConstraint(fields=["id_number_hash"], name="person_id_number_unique"),
        ]
        indexes = [models.Index(fields=["org", "name_initials"])]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_org(self) -> Org:
        return self.org

    @property
    def id_number(self) -> str:
        """Plaintext; only for a reveal that has been authorised and audited."""
        return crypto.decrypt(self.id_number_encrypted)

    @property
    def phone(self) -> str:
        return crypto.decrypt(self.phone_encrypted) if self.phone_encrypted else ""

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    @property
    def age(self) -> int:
        return self.age_on(dt.date.today())
