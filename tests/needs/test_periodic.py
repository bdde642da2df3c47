"""The needs jobs of ``huzhu runperiodic``: the profile rebuild runs once a day."""

from __future__ import annotations

import datetime as dt

import pytest

from huzhu.needs.models import MatchProfile
from huzhu.needs.periodic import match_profiles
from tests.factories import City
from tests.needs.factories import helper_volunteer

pytestmark = pytest.mark.django_db


def test_the_profile_rebuild_runs_once_a_day():
    city = City()
    volunteer = helper_volunteer(city.grid_a, "李近", "near")
    day = dt.date(2026, 12, 1)
    assert match_profiles(day) == "匹配画像：1 行"
    MatchProfile.objects.all().delete()
    assert match_profiles(day) == "匹配画像：今日已更新"
    assert MatchProfile.objects.count() == 0
    assert match_profiles(day - dt.timedelta(days=1)) == "匹配画像：今日已更新"
    assert match_profiles(day + dt.timedelta(days=1)) == "匹配画像：1 行"
    assert list(MatchProfile.objects.values_list("volunteer_id", flat=True)) == [volunteer.pk]
