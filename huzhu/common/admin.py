"""Back office: holidays the calendar package does not know yet (e.g. next year's)."""

from django.contrib import admin

from huzhu.common.models import WorkdayOverride


@admin.register(WorkdayOverride)
class WorkdayOverrideAdmin(admin.ModelAdmin):
    list_display = ("date", "is_workday", "note")
    list_filter = ("is_workday",)
    date_hierarchy = "date"
