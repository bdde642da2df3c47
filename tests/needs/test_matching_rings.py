"""The ring search of ``matching.rank``: enough good candidates close by end the search
early, with exactly the answer of reading the whole radius."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huzhu.needs import matching
from tests.factories import City
from tests.needs.factories import helper_volunteer, make_resident, post_need, set_place

pytestmark = pytest.mark.django_db


def candidate_queries(context: CaptureQueriesContext) -> int:
    return sum('"needs_matchprofile"' in q["sql"] for q in context.captured_queries)


def test_close_candidates_end_the_search_in_the_first_ring():
    city = City()
    set_place(city.community_a, 36.660, 117.020)
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    near = [
        helper_volunteer(city.grid_a, f"近邻{i}", f"near{i}", place=(36.660 + i * 0.0005, 117.020))
        for i in range(12)
    ]
    far = helper_volunteer(city.grid_a, "远方", "far", place=(36.695, 117.020))  # ~3.9 km
    need = post_need(city.worker_a, resident, payment="none", description="帮我取快递送上楼")
    ctx = matching.MatchContext.for_need(need)
    with CaptureQueriesContext(connection) as context:
        ranked = matching.rank(need, ctx=ctx)
    assert candidate_queries(context) == 1  # the 1 km ring sufficed
    assert ranked[-1].score > matching.ring_bound(ctx, 1.0)
    assert [c.volunteer_id for c in ranked] == [v.pk for v in near[:10]]
    assert ranked == matching.rank_full_scan(need, ctx=ctx)
    assert far.pk not in {c.volunteer_id for c in ranked}


def test_too_few_close_candidates_widen_the_search_to_the_radius():
    city = City()
    set_place(city.community_a, 36.660, 117.020)
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    near = helper_volunteer(city.grid_a, "近邻", "near", place=(36.661, 117.020))
    far = helper_volunteer(city.grid_a, "远方", "far", place=(36.695, 117.020))  # ~3.9 km
    need = post_need(city.worker_a, resident, payment="none")
    ctx = matching.MatchContext.for_need(need)
    with CaptureQueriesContext(connection) as context:
        ranked = matching.rank(need, ctx=ctx)
    assert candidate_queries(context) == 4  # 1, 2 and 3 km, then the whole radius
    assert [c.volunteer_id for c in ranked] == [near.pk, far.pk]
    assert ranked == matching.rank_full_scan(need, ctx=ctx)
