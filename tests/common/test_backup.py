import sqlite3

import pytest
from django.core.management import call_command

from tests.factories import make_person


@pytest.mark.django_db(transaction=True)
def test_backup_writes_a_restorable_copy(city, tmp_path, is_postgres):
    make_person(city.community_a, "备份测试")
    output = tmp_path / ("huzhu.dump" if is_postgres else "huzhu.sqlite3")
    call_command("backup", output=str(output))
    assert output.stat().st_size > 0
    if not is_postgres:
        rows = (
            sqlite3.connect(output)
            .execute("SELECT name FROM people_person WHERE name = '备份测试'")
            .fetchall()
        )
        assert rows == [("备份测试",)]
