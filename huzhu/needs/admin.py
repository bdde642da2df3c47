"""Back office for the needs exchange (superusers).

Need categories are data and are edited here: the national service category a completed need's
record carries, the skills that fit, the keywords that let a free-text description find the
category, the default duration, order and whether it is offered. Needs and offers are for
looking things up only: every change to them goes through the services (validated, audited,
paid, the matching profiles kept in step), i.e. the residents', volunteers' and workers' pages.
Message threads stay out of the back office.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from huzhu.needs.models import Invitation, Need, NeedCategory, NeedEvent, Offer
from huzhu.volunteers.availability import describe


class ReadOnlyMixin:
    """View-only: no add, change or delete from the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- categories ----------------------------------------------------------------------------


class NeedCategoryForm(forms.ModelForm):
    class Meta:
        model = NeedCategory
        fields = (
            "name",
            "service_category",
            "skills",
            "keywords",
            "default_minutes",
            "sort_order",
            "is_active",
        )
        widgets = {"keywords": forms.Textarea(attrs={"rows": 3, "cols": 80})}
        help_texts = {
            "keywords": _(
                "用空格、逗号或顿号分隔，如“买菜 买药 取快递”。居民用自己的话描述需求时，"
                "系统按这些词识别类别；修改后立即生效。"
            ),
            "skills": _("具备这些技能的志愿者会被推荐承接此类需求。"),
        }

    def clean_keywords(self) -> str:
        # One space between words, each kept once, in the order given.
        text = self.cleaned_data.get("keywords") or ""
        for separator in ("，", ",", "、", "\n", "\t"):
            text = text.replace(separator, " ")
        return " ".join(dict.fromkeys(word for word in text.split() if word))

    def clean_default_minutes(self) -> int:
        minutes = self.cleaned_data["default_minutes"]
        if not 1 <= minutes <= 24 * 60:
            raise forms.ValidationError(gettext("预计时长应在 1 分钟到 24 小时之间。"))
        return minutes


@admin.register(NeedCategory)
class NeedCategoryAdmin(admin.ModelAdmin):
    form = NeedCategoryForm
    list_display = (
        "name",
        "service_category",
        "skill_names",
        "keywords",
        "default_minutes",
        "need_count",
        "sort_order",
        "is_active",
    )
    list_editable = ("sort_order", "is_active")
    list_filter = ("is_active", "service_category")
    list_select_related = ("service_category",)
    search_fields = ("name", "keywords")
    filter_horizontal = ("skills",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[NeedCategory]:
        return (
            super()
            .get_queryset(request)
            .annotate(_needs=Count("needs", distinct=True))
            .prefetch_related("skills")
        )

    @admin.display(description=_("相关技能"))
    def skill_names(self, obj: NeedCategory) -> str:
        return "、".join(skill.name for skill in obj.skills.all()) or "—"

    @admin.display(description=_("需求数"), ordering="_needs")
    def need_count(self, obj: NeedCategory) -> int:
        return obj._needs  # type: ignore[attr-defined]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if change and {"skills", "service_category", "is_active"} & set(form.changed_data):
            self.message_user(
                request,
                gettext(
                    "技能、服务类别或启用状态的修改，将在下次运行定时任务"
                    "“needs.match_profiles”（huzhu runperiodic）后用于推荐志愿者。"
                ),
                messages.INFO,
            )


# --- needs and offers (read-only) ----------------------------------------------------------


class NeedEventInline(ReadOnlyMixin, admin.TabularInline):
    model = NeedEvent
    fields = ("created_at", "verb", "from_status", "to_status", "actor_label", "note")
    readonly_fields = fields
    extra = 0
    show_change_link = False


class InvitationInline(ReadOnlyMixin, admin.TabularInline):
    model = Invitation
    fields = ("volunteer", "kind", "status", "score", "reply", "created_at", "responded_at")
    readonly_fields = fields
    extra = 0
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invitation]:
        return super().get_queryset(request).select_related("volunteer__person")


@admin.register(Need)
class NeedAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "title",
        "org",
        "category",
        "channel",
        "urgency",
        "payment",
        "status",
        "volunteer",
        "starts_at",
        "created_at",
    )
    list_filter = ("status", "urgency", "payment", "channel", "category")
    list_select_related = ("org", "category", "volunteer__person")
    search_fields = ("number", "title", "volunteer__number")
    date_hierarchy = "created_at"
    inlines = (InvitationInline, NeedEventInline)


@admin.register(Offer)
class OfferAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "title",
        "org",
        "volunteer",
        "category_names",
        "availability_text",
        "is_active",
        "updated_at",
    )
    list_filter = ("is_active", "categories")
    list_select_related = ("org", "volunteer__person")
    search_fields = ("title", "description", "volunteer__number")
    exclude = ("availability",)
    readonly_fields = ("availability_text",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Offer]:
        return super().get_queryset(request).prefetch_related("categories")

    @admin.display(description=_("可提供的服务"))
    def category_names(self, obj: Offer) -> str:
        return "、".join(category.name for category in obj.categories.all())

    @admin.display(description=_("可服务时间"))
    def availability_text(self, obj: Offer) -> str:
        return describe(obj.availability) if obj.availability else "—"
