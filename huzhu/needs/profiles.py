"""Keeping ``MatchProfile`` — the narrow rows matching reads — in step with the register.

``profiles_refresh(volunteer_ids=…)`` rebuilds the rows of the given volunteers in a few set
queries per chunk; ``profiles_refresh()`` rebuilds everyone (nightly, and after an import).
A volunteer gets one row per need category they fit: through an active offer, a related skill,
or the related national service category — the best of the three.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count
from django.utils import timezone

from huzhu.common.bulk import write_rows
from huzhu.needs.matching import cell_of
from huzhu.needs.models import (
    ACTIVE_NEED_STATUSES,
    MatchFit,
    MatchProfile,
    Need,
    NeedCategory,
    NeedStatus,
    Offer,
)
from huzhu.orgs.models import Org, OrgKind

CHUNK = 5_000
PROFILE_COLUMNS = (
    "volunteer_id",
    "category_id",
    "community_id",
    "fit",
    "cell",
    "latitude",
    "longitude",
    "availability",
    "load",
    "no_shows",
    "rating_x10",
    "ratings",
)


class CategoryMap:
    """Which need categories each skill and each national category leads to."""

    def __init__(self) -> None:
        self.by_skill: dict[int, set[int]] = defaultdict(set)
        self.by_service: dict[int, set[int]] = defaultdict(set)
        active = NeedCategory.objects.filter(is_active=True)
        for category_id, service_id in active.values_list("pk", "service_category_id"):
            self.by_service[service_id].add(category_id)
        through = NeedCategory.skills.through.objects.filter(needcategory__is_active=True)
        for category_id, skill_id in through.values_list("needcategory_id", "skill_id"):
            self.by_skill[skill_id].add(category_id)
        self.active = set(active.values_list("pk", flat=True))


def _places(org_ids: set[int]) -> dict[int, tuple[int, float | None, float | None]]:
    """org id → (community id, latitude, longitude) for the volunteers' orgs: a grid belongs
    to its community and, without a place of its own, takes the community's; any other org
    (a street, say) is its own community with its own place."""
    rows = Org.objects.filter(pk__in=org_ids).values_list(
        "pk",
        "kind",
        "parent_id",
        "latitude",
        "longitude",
        "parent__kind",
        "parent__latitude",
        "parent__longitude",
    )
    result: dict[int, tuple[int, float | None, float | None]] = {}
    for pk, kind, parent_id, lat, lng, parent_kind, parent_lat, parent_lng in rows:
        community = pk
        if kind == OrgKind.GRID and parent_id is not None and parent_kind == OrgKind.COMMUNITY:
            community = parent_id
            if lat is None or lng is None:
                lat, lng = parent_lat, parent_lng
        if lat is None or lng is None:
            lat = lng = None
        result[pk] = (community, lat, lng)
    return result


def adult_born_by(today: dt.date) -> dt.date:
    """The latest birth date of someone 18 or older on ``today`` (born 29 February: adult
    on 1 March of a common year, as ``Person.age_on`` counts)."""
    try:
        return today.replace(year=today.year - 18)
    except ValueError:  # today is 29 February, 18 years ago was a common year
        return dt.date(today.year - 18, 2, 28)


def profiles_refresh(
    *, volunteer_ids: Sequence[int] | None = None, today: dt.date | None = None
) -> int:
    """Rebuild the profile rows of these volunteers (all when None). Returns rows written.

    Each chunk first locks its volunteers' rows (``FOR NO KEY UPDATE``, in id order), so
    two refreshes of the same volunteer run one after the other instead of both inserting."""
    from huzhu.volunteers.models import Volunteer

    today = today or timezone.localdate()
    categories = CategoryMap()
    written = 0
    for ids in _chunks(volunteer_ids, Volunteer):
        with transaction.atomic():
            _lock(Volunteer, ids)
            MatchProfile.objects.filter(volunteer_id__in=ids).delete()
            rows = _rows_for(ids, today, categories)
            write_rows(MatchProfile, PROFILE_COLUMNS, rows)
            written += len(rows)
    return written


def _lock(model: type, ids: list[int]) -> None:
    from django.db import connection

    if connection.features.has_select_for_update:
        list(
            model.objects.select_for_update(no_key=connection.features.has_select_for_no_key_update)
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def _chunks(volunteer_ids: Sequence[int] | None, model: type) -> Iterator[list[int]]:
    if volunteer_ids is not None:
        ids = sorted(set(volunteer_ids))
        for start in range(0, len(ids), CHUNK):
            yield ids[start : start + CHUNK]
        return
    last = 0
    while True:
        ids = list(
            model.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:CHUNK]
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


def _rows_for(ids: list[int], today: dt.date, categories: CategoryMap) -> list[tuple]:
    from huzhu.people.models import ResidenceStatus
    from huzhu.volunteers.models import Volunteer, VolunteerStatus

    volunteers = list(
        Volunteer.objects.filter(
            pk__in=ids,
            status=VolunteerStatus.REGISTERED,
            person__birth_date__lte=adult_born_by(today),
            person__status=ResidenceStatus.ACTIVE,
        ).values_list("pk", "org_id", "availability")
    )
    if not volunteers:
        return []
    communities = _places({v[1] for v in volunteers})
    present = [v[0] for v in volunteers]
    fits = _fits(present, categories)
    offers = _offer_places(present)
    loads = _loads(present, today)
    no_shows = _no_shows(present, today)
    ratings = _ratings(present)
    rows = []
    for volunteer_id, org_id, availability in volunteers:
        community_id, lat, lng = communities.get(org_id, (org_id, None, None))
        offer_mask, offer_lat, offer_lng = offers.get(volunteer_id, (0, None, None))
        if offer_lat is not None:
            lat, lng = offer_lat, offer_lng
        rating_x10, rating_count = ratings.get(volunteer_id, (0, 0))
        for category_id, fit in sorted(fits.get(volunteer_id, {}).items()):
            rows.append(
                (
                    volunteer_id,
                    category_id,
                    community_id,
                    fit,
                    cell_of(lat, lng),
                    lat,
                    lng,
                    availability | offer_mask,
                    min(loads.get(volunteer_id, 0), 32767),
                    min(no_shows.get(volunteer_id, 0), 32767),
                    rating_x10,
                    rating_count,
                )
            )
    return rows


def _fits(ids: list[int], categories: CategoryMap) -> dict[int, dict[int, int]]:
    from huzhu.volunteers.models import Volunteer

    fits: dict[int, dict[int, int]] = defaultdict(dict)

    def mark(volunteer_id: int, category_ids: set[int], fit: int) -> None:
        for category_id in category_ids:
            if fits[volunteer_id].get(category_id, 0) < fit:
                fits[volunteer_id][category_id] = fit

    through = Volunteer.categories.through.objects.filter(volunteer_id__in=ids)
    for volunteer_id, service_id in through.values_list("volunteer_id", "servicecategory_id"):
        mark(volunteer_id, categories.by_service.get(service_id, set()), MatchFit.CATEGORY)
    through = Volunteer.skills.through.objects.filter(volunteer_id__in=ids)
    for volunteer_id, skill_id in through.values_list("volunteer_id", "skill_id"):
        mark(volunteer_id, categories.by_skill.get(skill_id, set()), MatchFit.SKILL)
    offered = Offer.categories.through.objects.filter(
        offer__volunteer_id__in=ids, offer__is_active=True
    ).values_list("offer__volunteer_id", "needcategory_id")
    for volunteer_id, category_id in offered:
        if category_id in categories.active:
            mark(volunteer_id, {category_id}, MatchFit.OFFER)
    return fits


def _offer_places(ids: list[int]) -> dict[int, tuple[int, float | None, float | None]]:
    """volunteer → (union of their active offers' availability, newest offer place)."""
    places: dict[int, tuple[int, float | None, float | None]] = {}
    offers = (
        Offer.objects.filter(volunteer_id__in=ids, is_active=True)
        .order_by("volunteer_id", "updated_at", "pk")
        .values_list("volunteer_id", "availability", "latitude", "longitude")
    )
    for volunteer_id, availability, lat, lng in offers:
        mask, old_lat, old_lng = places.get(volunteer_id, (0, None, None))
        if lat is None or lng is None:
            lat, lng = old_lat, old_lng
        places[volunteer_id] = (mask | availability, lat, lng)
    return places


def _loads(ids: list[int], today: dt.date) -> dict[int, int]:
    """Services in the last HUZHU_MATCH_LOAD_DAYS days plus needs in hand."""
    from huzhu.activities.models import RecordStatus, ServiceRecord

    since = today - dt.timedelta(days=settings.HUZHU_MATCH_LOAD_DAYS)
    loads: dict[int, int] = defaultdict(int)
    records = (
        ServiceRecord.objects.filter(volunteer_id__in=ids, served_on__gte=since)
        .exclude(status__in=(RecordStatus.REJECTED, RecordStatus.REVOKED))
        .values("volunteer_id")
        .annotate(n=Count("pk"))
        .values_list("volunteer_id", "n")
    )
    for volunteer_id, n in records:
        loads[volunteer_id] += n
    in_hand = (
        Need.objects.filter(volunteer_id__in=ids, status__in=ACTIVE_NEED_STATUSES)
        .values("volunteer_id")
        .annotate(n=Count("pk"))
        .values_list("volunteer_id", "n")
    )
    for volunteer_id, n in in_hand:
        loads[volunteer_id] += n
    return loads


def _no_shows(ids: list[int], today: dt.date) -> dict[int, int]:
    from huzhu.activities.models import Attendance, Signup

    since = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=90), dt.time()))
    return dict(
        Signup.objects.filter(
            volunteer_id__in=ids, attendance=Attendance.NO_SHOW, shift__starts_at__gte=since
        )
        .values("volunteer_id")
        .annotate(n=Count("pk"))
        .values_list("volunteer_id", "n")
    )


def _ratings(ids: list[int]) -> dict[int, tuple[int, int]]:
    """Average need rating ×10 and the number of ratings, from completed needs."""
    rows = (
        Need.objects.filter(volunteer_id__in=ids, status=NeedStatus.DONE, rating__isnull=False)
        .values("volunteer_id")
        .annotate(avg=Avg("rating"), n=Count("pk"))
        .values_list("volunteer_id", "avg", "n")
    )
    return {v: (round(avg * 10), n) for v, avg, n in rows}
