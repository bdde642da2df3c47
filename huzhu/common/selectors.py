"""Reads on the audit log."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q, QuerySet

from huzhu.common.models import AuditEntry, Notification
from huzhu.orgs.models import Org, RoleGrant
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person


def audit_history(*, scope: Scope, target: models.Model) -> QuerySet[AuditEntry]:
    """Every entry about ``target`` that the scope may read (the caller has already
    checked that ``target`` itself is visible). An org's history includes the role grants
    made on it."""
    about = Q(target_type=ContentType.objects.get_for_model(target), target_id=str(target.pk))
    if isinstance(target, Org):
        about |= Q(target_type=ContentType.objects.get_for_model(RoleGrant), org=target)
    if isinstance(target, Person):  # a person's history includes their volunteer registration
        from huzhu.volunteers.models import Volunteer

        volunteer_id = Volunteer.objects.filter(person=target).values_list("pk", flat=True).first()
        if volunteer_id is not None:
            about |= Q(
                target_type=ContentType.objects.get_for_model(Volunteer),
                target_id=str(volunteer_id),
            )
    return (
        AuditEntry.objects.within(scope, Perm.AUDIT_VIEW)
        .filter(about)
        .order_by("-created_at", "-id")
    )


def audit_recent(*, scope: Scope, limit: int = 20) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.within(scope, Perm.AUDIT_VIEW).order_by("-created_at", "-id")[:limit]


def notification_list(*, user: object) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


def notification_unread_count(*, user: object) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
