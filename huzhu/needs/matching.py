"""Ranking volunteers for a need, fast and fair, with every score explained in words.

A candidate must be 在册 and adult (the profile rows exist only for them), fit one of the
need's categories, hold the qualifications the need asks for, and be within the match radius
of the need's place — or, when either place is unknown, live in the need's community. The
requester, and volunteers who already declined or were asked, are left out.

Each eligible candidate scores 0–100 from five parts (weights in ``WEIGHTS``):
- fit: published an offer in the category (full), has a related skill (0.8), registered in the
  related national service category (0.5); a category the description only suggested counts 0.8;
- distance: falls linearly from the need's place to the radius (an unknown place counts half);
- availability: the share of the need's time slots (7 days × 上午/下午/晚上) the volunteer keeps
  free; none declared counts 0.4;
- recent load: 1 / (1 + services in the last ``HUZHU_MATCH_LOAD_DAYS`` days and needs in hand),
  so work spreads over people instead of falling on the same few;
- reliability: half from the average rating (none yet: 0.8), half from no-shows in 90 days.

Only ``MatchProfile`` rows near the need are read: one index range per row of ~1 km grid cells
(``cell_of``) across the radius, plus the community's rows without a place. ``rank_full_scan``
scores every profile row with the same function; the benchmark and tests check both agree.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.needs.models import Invitation, MatchFit, MatchProfile, Need
from huzhu.volunteers.availability import describe

CELL_DEGREES = 0.01  # ~1.1 km of latitude
CELL_ROW = 100_000  # cell = row * CELL_ROW + column
EARTH_RADIUS_KM = 6371.0
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180  # the same sphere as ``distance_km``
RINGS_KM = (1.0, 2.0, 3.0)  # read these distances first (see ``rank``)
WEIGHTS = {"fit": 30, "distance": 25, "availability": 20, "load": 15, "reliability": 10}
FIT_SHARE = {MatchFit.OFFER: 1.0, MatchFit.SKILL: 0.8, MatchFit.CATEGORY: 0.5}
EXTRA_CATEGORY_SHARE = 0.8
QUALIFICATION_CHUNK = 200
COLUMNS = (
    "volunteer_id",
    "category_id",
    "community_id",
    "fit",
    "latitude",
    "longitude",
    "availability",
    "load",
    "no_shows",
    "rating_x10",
    "ratings",
)
Row = tuple


def radius_km() -> float:
    return float(settings.HUZHU_MATCH_RADIUS_KM)


def cell_of(latitude: float | None, longitude: float | None) -> int | None:
    if latitude is None or longitude is None:
        return None
    row = math.floor((latitude + 90) / CELL_DEGREES)
    column = math.floor((longitude + 180) / CELL_DEGREES)
    return row * CELL_ROW + column


def cell_ranges(latitude: float, longitude: float, km: float) -> list[tuple[int, int]]:
    """Inclusive cell ranges covering every place within ``km`` of a place: one per grid row
    of the bounding box. The box is the circle's exact extent on the sphere (a circle's
    widest longitude lies a little poleward of its centre), plus a hair for rounding."""
    arc = km / EARTH_RADIUS_KM
    d_lat = math.degrees(arc) * 1.000001
    cos_lat = math.cos(math.radians(latitude))
    if arc >= math.pi / 2 or math.sin(arc) >= cos_lat:  # reaches a pole: every longitude
        d_lng = 180.0
    else:
        d_lng = math.degrees(math.asin(math.sin(arc) / cos_lat)) * 1.000001
    first_row = math.floor((latitude - d_lat + 90) / CELL_DEGREES)
    last_row = math.floor((latitude + d_lat + 90) / CELL_DEGREES)
    if d_lng >= 180:
        first_col, last_col = 0, math.floor(360 / CELL_DEGREES)
    else:  # (a circle across the antimeridian is not looked for on its far side)
        first_col = math.floor((longitude - d_lng + 180) / CELL_DEGREES)
        last_col = math.floor((longitude + d_lng + 180) / CELL_DEGREES)
    return [
        (row * CELL_ROW + first_col, row * CELL_ROW + last_col)
        for row in range(first_row, last_row + 1)
    ]


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    d_lat, d_lng = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(d_lat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(d_lng / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


def window_mask(starts_at: dt.datetime, ends_at: dt.datetime) -> int:
    """The availability slots (bit day*3 + period) a time window touches, in local time."""
    start = timezone.localtime(starts_at).replace(minute=0, second=0, microsecond=0)
    end = timezone.localtime(ends_at)
    mask, hour, steps = 0, start, 0
    while hour < end and steps < 24 * 7:
        period = 0 if hour.hour < 12 else 1 if hour.hour < 18 else 2
        mask |= 1 << (hour.weekday() * 3 + period)
        hour += dt.timedelta(hours=1)
        steps += 1
    return mask


@dataclass
class MatchContext:
    """What ranking needs to know about one need, computed once."""

    need_id: int
    community_id: int
    category_shares: dict[int, float]
    category_names: dict[int, str]
    latitude: float | None
    longitude: float | None
    radius: float
    slots: int
    qualification_ids: list[int]
    excluded: set[int]
    today: dt.date
    load_days: int
    # qualifications must be valid on this day: the first day of the window (not before today)
    valid_on: dt.date | None = None

    @classmethod
    def for_need(cls, need: Need) -> MatchContext:
        from huzhu.needs.selectors import community_of

        shares = {need.category_id: 1.0}
        names = {need.category_id: need.category.name}
        for extra in need.extra_categories.all():
            shares.setdefault(extra.pk, EXTRA_CATEGORY_SHARE)
            names.setdefault(extra.pk, extra.name)
        excluded = set(Invitation.objects.filter(need=need).values_list("volunteer_id", flat=True))
        if need.requester_id is not None:
            from huzhu.volunteers.models import Volunteer

            excluded.update(
                Volunteer.objects.filter(person_id=need.requester_id).values_list("pk", flat=True)
            )
        today = timezone.localdate()
        return cls(
            need_id=need.pk,
            community_id=community_of(need.org).pk,
            category_shares=shares,
            category_names=names,
            latitude=need.latitude,
            longitude=need.longitude,
            radius=radius_km(),
            slots=window_mask(need.starts_at, need.ends_at),
            qualification_ids=sorted(need.qualifications.values_list("pk", flat=True)),
            excluded=excluded,
            today=today,
            load_days=settings.HUZHU_MATCH_LOAD_DAYS,
            valid_on=max(today, timezone.localtime(need.starts_at).date()),
        )

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass
class Candidate:
    volunteer_id: int
    score: float
    parts: dict[str, float]
    row: Row
    distance: float | None = None
    volunteer: object = field(default=None, repr=False)

    @property
    def points(self) -> int:
        """The score in whole points, halves rounded up (62.5 → 63)."""
        return math.floor(self.score + 0.5)


def _near(ctx: MatchContext, row: Row) -> tuple[float, float | None] | None:
    """The distance part and the distance (km, None when unknown); None when out of reach."""
    _vid, _category, community_id, _fit, lat, lng = row[:6]
    if ctx.located and lat is not None and lng is not None:
        distance = distance_km(ctx.latitude, ctx.longitude, lat, lng)  # type: ignore[arg-type]
        if distance > ctx.radius:
            return None
        return 1.0 - distance / ctx.radius, distance
    if community_id == ctx.community_id:
        return 0.5, None
    return None


def _parts(ctx: MatchContext, row: Row, share: float, near: float) -> tuple[float, ...]:
    """fit, distance, availability, load, reliability — in ``WEIGHTS`` order, each 0–1."""
    fit = row[3]
    availability, load, no_shows, rating_x10, ratings = row[6:11]
    return (
        FIT_SHARE[fit] * share,
        near,
        _availability_share(ctx.slots, availability),
        1.0 / (1 + load),
        0.5 * _rating_share(rating_x10, ratings) + 0.5 * max(0.0, 1 - no_shows / 3),
    )


_WEIGHT_LIST = tuple(WEIGHTS.values())


def _total(parts: tuple[float, ...]) -> float:
    return sum(weight * value for weight, value in zip(_WEIGHT_LIST, parts, strict=True))


def score_row(ctx: MatchContext, row: Row) -> Candidate | None:
    """Score one profile row for the need; None when the volunteer is not eligible."""
    share = ctx.category_shares.get(row[1])
    if share is None or row[0] in ctx.excluded:
        return None
    reach = _near(ctx, row)
    if reach is None:
        return None
    parts = _parts(ctx, row, share, reach[0])
    return Candidate(row[0], _total(parts), dict(zip(WEIGHTS, parts, strict=True)), row, reach[1])


def _score_only(ctx: MatchContext, row: Row) -> float | None:
    """``score_row``'s score alone (no objects made): the hot loop of ranking."""
    share = ctx.category_shares.get(row[1])
    if share is None or row[0] in ctx.excluded:
        return None
    reach = _near(ctx, row)
    if reach is None:
        return None
    return _total(_parts(ctx, row, share, reach[0]))


def _availability_share(slots: int, availability: int) -> float:
    if not availability:
        return 0.4
    if not slots:
        return 1.0
    return (slots & availability).bit_count() / slots.bit_count()


def _rating_share(rating_x10: int, ratings: int) -> float:
    if not ratings:
        return 0.8
    return max(0.0, min(1.0, (rating_x10 / 10 - 1) / 4))


Scored = tuple  # (score, volunteer id, row)


def _best(ctx: MatchContext, rows: Iterable[Row]) -> list[Scored]:
    """Every eligible volunteer once (their best-scoring category), best first."""
    best: dict[int, Scored] = {}
    for row in rows:
        score = _score_only(ctx, row)
        if score is None:
            continue
        known = best.get(row[0])
        if known is None or score > known[0]:
            best[row[0]] = (score, row[0], row)
    return sorted(best.values(), key=lambda s: (-s[0], s[1]))


def _qualified(ctx: MatchContext, ordered: list[Scored], limit: int) -> list[Candidate]:
    """The first ``limit`` candidates holding every qualification the need asks for, read
    in chunks from the top so that a long list costs few queries."""
    if not ctx.qualification_ids:
        return [_candidate(ctx, s) for s in ordered[:limit]]
    chosen: list[Candidate] = []
    for start in range(0, len(ordered), QUALIFICATION_CHUNK):
        chunk = ordered[start : start + QUALIFICATION_CHUNK]
        holders = qualified_ids(ctx, [s[1] for s in chunk])
        chosen.extend(_candidate(ctx, s) for s in chunk if s[1] in holders)
        if len(chosen) >= limit:
            break
    return chosen[:limit]


def _candidate(ctx: MatchContext, scored: Scored) -> Candidate:
    candidate = score_row(ctx, scored[2])
    assert candidate is not None and candidate.score == scored[0]
    return candidate


def qualified_ids(ctx: MatchContext, volunteer_ids: list[int]) -> set[int]:
    """Those of ``volunteer_ids`` who hold every qualification the need asks for, each
    valid (not expired) on the need's day."""
    from django.db.models import Count

    from huzhu.volunteers.models import Qualification

    if not ctx.qualification_ids:
        return set(volunteer_ids)
    valid = Q(expires_on__isnull=True) | Q(expires_on__gte=ctx.valid_on or ctx.today)
    found: set[int] = set()
    for start in range(0, len(volunteer_ids), QUALIFICATION_CHUNK):
        ids = volunteer_ids[start : start + QUALIFICATION_CHUNK]
        rows = (
            Qualification.objects.filter(
                valid, volunteer_id__in=ids, kind_id__in=ctx.qualification_ids
            )
            .values("volunteer_id")
            .annotate(kinds=Count("kind_id", distinct=True))
            .filter(kinds=len(ctx.qualification_ids))
            .values_list("volunteer_id", flat=True)
        )
        found.update(rows)
    return found


def candidate_rows(ctx: MatchContext, km: float | None = None) -> list[Row]:
    """The profile rows that could be eligible: the need's categories in the cells within
    ``km`` (default: the whole radius) of its place, plus the need's community (rows without
    a place, or every row when the need has none)."""
    categories = list(ctx.category_shares)
    home = Q(category_id__in=categories, community_id=ctx.community_id)
    if ctx.located:
        near = Q()
        reach = ctx.radius if km is None else min(km, ctx.radius)
        for low, high in cell_ranges(ctx.latitude, ctx.longitude, reach):  # type: ignore[arg-type]
            near |= Q(cell__gte=low, cell__lte=high)
        condition = Q(category_id__in=categories) & near | home & Q(cell__isnull=True)
    else:
        condition = home
    return list(MatchProfile.objects.filter(condition).values_list(*COLUMNS))


def rank(need: Need, *, limit: int = 10, ctx: MatchContext | None = None) -> list[Candidate]:
    """The ``limit`` best candidates for ``need``, best first, through the index.

    Nearby volunteers are read first, in growing rings (``RINGS_KM``, then the radius): a
    volunteer outside a ring is farther than it, so their score is below ``ring_bound`` —
    all the other parts at most full, the distance part below what the ring's edge earns.
    Once the ``limit``-th candidate found beats that bound, nobody farther can displace
    anyone, and the answer is exactly what reading the whole radius would give."""
    ctx = ctx or MatchContext.for_need(need)
    if not ctx.located:
        return _qualified(ctx, _best(ctx, candidate_rows(ctx)), limit)
    rings = [ring for ring in RINGS_KM if ring < ctx.radius]
    for ring in rings:
        chosen = _qualified(ctx, _best(ctx, candidate_rows(ctx, ring)), limit)
        if len(chosen) == limit and chosen[-1].score > ring_bound(ctx, ring):
            return chosen
    return _qualified(ctx, _best(ctx, candidate_rows(ctx)), limit)


def ring_bound(ctx: MatchContext, ring: float) -> float:
    """The best score anyone farther than ``ring`` km could reach."""
    others = sum(weight for part, weight in WEIGHTS.items() if part != "distance")
    return others + WEIGHTS["distance"] * (1.0 - ring / ctx.radius)


def rank_full_scan(
    need: Need, *, limit: int = 10, ctx: MatchContext | None = None
) -> list[Candidate]:
    """The same ranking computed by scoring every profile row: the reference the index path
    is measured against (and checked equal to)."""
    ctx = ctx or MatchContext.for_need(need)
    rows = MatchProfile.objects.values_list(*COLUMNS).order_by().iterator(chunk_size=20_000)
    return _qualified(ctx, _best(ctx, rows), limit)


def top(candidates: Sequence[Candidate], n: int) -> list[Candidate]:
    return heapq.nsmallest(n, candidates, key=lambda c: (-c.score, c.volunteer_id))


# --- words -------------------------------------------------------------------------------


def explain(ctx: MatchContext, candidate: Candidate) -> list[str]:
    """Why this volunteer ranks where they do, one phrase per part, in the UI language."""
    _vid, category_id, _community, fit, _lat, _lng = candidate.row[:6]
    availability, load, no_shows, rating_x10, ratings = candidate.row[6:11]
    name = ctx.category_names.get(category_id, "")
    fit_words = {
        MatchFit.OFFER: _("发布了“%(c)s”服务"),
        MatchFit.SKILL: _("具备“%(c)s”相关技能"),
        MatchFit.CATEGORY: _("登记的服务类别与“%(c)s”相近"),
    }
    reasons = [fit_words[fit] % {"c": name}]
    if candidate.distance is not None:
        reasons.append(_("距离约 %(km).1f 公里") % {"km": candidate.distance})
    else:
        reasons.append(_("同一社区（位置未标注）"))
    reasons.append(_availability_words(ctx.slots, availability))
    if load:
        reasons.append(_("近 %(d)d 天已承担服务 %(n)d 次") % {"d": ctx.load_days, "n": load})
    else:
        reasons.append(_("近 %(d)d 天未承担服务，可分担") % {"d": ctx.load_days})
    if ratings:
        reasons.append(_("平均评分 %(r).1f（%(n)d 次评价）") % {"r": rating_x10 / 10, "n": ratings})
    else:
        reasons.append(_("暂无评价"))
    if no_shows:
        reasons.append(_("近 90 天缺席 %(n)d 次") % {"n": no_shows})
    else:
        reasons.append(_("近 90 天无缺席"))
    return reasons


def _availability_words(slots: int, availability: int) -> str:
    if not availability:
        return _("未登记可服务时间")
    if not slots:
        return _("有可服务时间")
    common = slots & availability
    if common == slots:
        return _("需求时段（%(s)s）有空") % {"s": describe(slots)}
    if common:
        return _("需求时段部分有空（%(s)s）") % {"s": describe(common)}
    return _("需求时段（%(s)s）未登记有空") % {"s": describe(slots)}
