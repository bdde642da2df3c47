"""Back office for activities, sign-ups, service records and certificates (superusers).

Read-only: every change to these goes through the services (validated, audited, hours rolled
up), i.e. the organisers' pages. The admin is for looking things up. Check-in codes and QR
secrets are never shown here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from huzhu.activities.models import (
    Activity,
    AttendanceCorrection,
    Certificate,
    RecordCorrection,
    ServiceRecord,
    Shift,
    Signup,
)


class ReadOnlyMixin:
    """View-only: no add, change or delete from the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ShiftInline(ReadOnlyMixin, admin.TabularInline):
    model = Shift
    fields = (
        "name",
        "starts_at",
        "ends_at",
        "capacity",
        "confirmed_count",
        "signup_mode",
        "is_cancelled",
        "reminded_at",
        "records_created_at",
    )
    readonly_fields = fields
    extra = 0
    show_change_link = False


@admin.register(Activity)
class ActivityAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("title", "org", "category", "starts_on", "ends_on", "status", "is_risky")
    list_filter = ("status", "category", "is_risky", "recruitment")
    list_select_related = ("org", "category")
    search_fields = ("title", "address")
    date_hierarchy = "starts_on"
    exclude = ("invite_code",)
    inlines = (ShiftInline,)


@admin.register(Signup)
class SignupAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "volunteer",
        "shift",
        "status",
        "attendance",
        "checked_in_at",
        "checked_out_at",
        "queued_at",
    )
    list_filter = ("status", "attendance", "check_in_method")
    list_select_related = ("volunteer__person", "shift__activity")
    search_fields = ("volunteer__number", "shift__activity__title")
    raw_id_fields = ("shift", "volunteer")


@admin.register(ServiceRecord)
class ServiceRecordAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "served_on",
        "volunteer",
        "org",
        "content",
        "category",
        "minutes",
        "source",
        "status",
    )
    list_filter = ("status", "source", "category")
    list_select_related = ("volunteer__person", "org", "category")
    search_fields = ("volunteer__number", "content", "place")
    date_hierarchy = "served_on"
    raw_id_fields = ("volunteer", "org", "activity", "shift", "signup")


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The frozen snapshot (and its verification code) stays out of the back office."""

    list_display = (
        "__str__",
        "volunteer",
        "org",
        "period_from",
        "period_to",
        "total_minutes",
        "status",
        "issued_at",
    )
    list_filter = ("status",)
    list_select_related = ("volunteer__person", "org")
    search_fields = ("number", "volunteer__number")
    raw_id_fields = ("volunteer", "org")


@admin.register(RecordCorrection)
class RecordCorrectionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("record", "old_minutes", "new_minutes", "reason", "actor", "created_at")
    list_select_related = ("record", "actor")
    search_fields = ("reason", "record__volunteer__number")
    raw_id_fields = ("record",)


@admin.register(AttendanceCorrection)
class AttendanceCorrectionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("signup", "old_in", "old_out", "new_in", "new_out", "reason", "actor")
    list_select_related = ("signup__volunteer__person", "signup__shift__activity", "actor")
    search_fields = ("reason", "signup__volunteer__number")
    raw_id_fields = ("signup",)
