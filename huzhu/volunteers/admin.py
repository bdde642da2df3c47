"""Back office for the classification lists (superusers): they are data, edited here."""

from django.contrib import admin

from huzhu.volunteers.models import QualificationType, ServedGroup, ServiceCategory, Skill


@admin.register(ServiceCategory, ServedGroup)
class ClassificationAdmin(admin.ModelAdmin):
    list_display = ("name", "sort_order", "is_active")
    list_editable = ("sort_order", "is_active")
    search_fields = ("name",)


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ("name", "is_curated", "sort_order", "is_active")
    list_editable = ("is_curated", "sort_order", "is_active")
    list_filter = ("is_curated", "is_active")
    search_fields = ("name",)


@admin.register(QualificationType)
class QualificationTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "validity_months", "remind_days_before", "sort_order", "is_active")
    list_editable = ("validity_months", "remind_days_before", "sort_order", "is_active")
    search_fields = ("name",)
