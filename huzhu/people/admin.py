"""Back office for resident tags (superusers); workers use the 居民标签 page."""

from django.contrib import admin

from huzhu.people.models import Tag


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "is_sensitive", "sort_order", "is_active")
    list_editable = ("is_sensitive", "sort_order", "is_active")
    list_filter = ("category", "is_sensitive")
    search_fields = ("name",)
