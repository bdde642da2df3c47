"""Back office for the service desk (superusers).

The matter catalogue is data and is edited here (also by workers on the desk's catalogue
pages): name, kind, the 一次性告知 materials, the deadline in working days, the handling team,
whether reports of it are public. Patrol teams and public contacts are plain settings.
Tickets, notices, suggestions and Open311 keys are for looking things up only: every change
to them goes through the services (validated, audited, notified), i.e. the desk's pages.
A ticket's contact phone is never shown here in full.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from huzhu.desk.models import (
    AppKey,
    MatterType,
    Notice,
    PatrolTeam,
    PublicContact,
    Suggestion,
    Ticket,
    TicketEvent,
    TicketPhoto,
)


class ReadOnlyMixin:
    """View-only: no add, change or delete from the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- catalogue and settings ----------------------------------------------------------------


@admin.register(MatterType)
class MatterTypeAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "kind",
        "org",
        "deadline_days",
        "handling_team",
        "is_public",
        "ticket_count",
        "sort_order",
        "is_active",
    )
    list_editable = ("sort_order", "is_active")
    list_filter = ("kind", "is_public", "is_active")
    list_select_related = ("org", "handling_team")
    search_fields = ("name", "code", "keywords")
    raw_id_fields = ("org", "handling_team")

    def get_queryset(self, request: HttpRequest) -> QuerySet[MatterType]:
        return super().get_queryset(request).annotate(_tickets=Count("tickets"))

    @admin.display(description=_("工单数"), ordering="_tickets")
    def ticket_count(self, obj: MatterType) -> int:
        return obj._tickets  # type: ignore[attr-defined]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A type with tickets is kept (PROTECT); switch it off instead.
        return obj is None or not obj.tickets.exists()


@admin.register(PatrolTeam)
class PatrolTeamAdmin(admin.ModelAdmin):
    list_display = ("grid", "team")
    list_select_related = ("grid", "team")
    search_fields = ("grid__name", "team__name")
    raw_id_fields = ("grid", "team")


@admin.register(PublicContact)
class PublicContactAdmin(admin.ModelAdmin):
    list_display = ("name", "role", "org", "phone", "sort_order")
    list_select_related = ("org",)
    search_fields = ("name", "org__name")
    raw_id_fields = ("org",)


# --- tickets (read-only) -------------------------------------------------------------------


class TicketEventInline(ReadOnlyMixin, admin.TabularInline):
    model = TicketEvent
    fields = ("created_at", "verb", "from_status", "to_status", "actor_label", "note", "is_public")
    readonly_fields = fields
    extra = 0
    show_change_link = False


class TicketPhotoInline(ReadOnlyMixin, admin.TabularInline):
    model = TicketPhoto
    fields = ("kind", "image", "width", "height", "size", "is_public", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = False


@admin.register(Ticket)
class TicketAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "title",
        "org",
        "matter_type",
        "channel",
        "status",
        "due_date",
        "escalation_level",
        "receiver",
        "team",
        "created_at",
    )
    list_filter = ("status", "channel", "escalation_level", "matter_type__kind")
    list_select_related = ("org", "matter_type", "receiver", "team")
    search_fields = ("number", "title", "address")
    date_hierarchy = "created_at"
    # The encrypted and hashed phone, the token and the client hash stay out of sight.
    exclude = ("contact_phone_encrypted", "contact_phone_hash", "token", "source_hash")
    inlines = (TicketPhotoInline, TicketEventInline)


# --- boards, suggestions, keys (read-only) -------------------------------------------------


@admin.register(Notice)
class NoticeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("title", "org", "kind", "status", "published_at", "created_at")
    list_filter = ("kind", "status")
    list_select_related = ("org",)
    search_fields = ("title", "place")


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("number", "title", "org", "status", "is_public", "replied_at", "created_at")
    list_filter = ("status", "is_public")
    list_select_related = ("org",)
    search_fields = ("number", "title")
    exclude = ("source_hash",)


@admin.register(AppKey)
class AppKeyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "prefix",
        "org",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_select_related = ("org", "created_by")
    search_fields = ("name", "prefix")
    exclude = ("key_hash",)
