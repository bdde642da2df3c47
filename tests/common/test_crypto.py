"""Encryption at rest, keyed hashes and key rotation (DESIGN.md §3)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.test import override_settings

from huzhu.common import crypto
from huzhu.common.models import AuditEntry
from huzhu.people.models import Person
from tests.factories import make_id_number, make_person

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
OTHER = Fernet.generate_key().decode()


def test_round_trip():
    for text in ("11010519491231002X", "13800138000", "张三 住址：解放路 1 号", ""):
        token = crypto.encrypt(text)
        assert text not in token or not text
        assert crypto.decrypt(token) == text


def test_encryption_is_randomised():
    first, second = crypto.encrypt("13800138000"), crypto.encrypt("13800138000")
    assert first != second
    assert crypto.decrypt(first) == crypto.decrypt(second) == "13800138000"


def test_keyed_hash_is_deterministic_and_purpose_separated():
    value = "11010519491231002X"
    first = crypto.keyed_hash(value, "id_number")
    assert first == crypto.keyed_hash(value, "id_number")
    assert len(first) == 64 and int(first, 16) >= 0
    assert first != crypto.keyed_hash(value, "phone")
    assert first != crypto.keyed_hash("11010519491231003X", "id_number")
    assert value not in first


def test_keyed_hash_depends_on_the_server_key():
    value = "13800138000"
    before = crypto.keyed_hash(value, "phone")
    with override_settings(HUZHU_HASH_KEY="another server key"):
        assert crypto.keyed_hash(value, "phone") != before
    assert crypto.keyed_hash(value, "phone") == before


def test_decrypt_with_unknown_key_raises_value_error():
    with override_settings(HUZHU_FERNET_KEYS=[OLD]):
        token = crypto.encrypt("13800138000")
    with (
        override_settings(HUZHU_FERNET_KEYS=[OTHER]),
        pytest.raises(ValueError, match="cannot be decrypted"),
    ):
        crypto.decrypt(token)


def test_rotation():
    with override_settings(HUZHU_FERNET_KEYS=[OLD]):
        token = crypto.encrypt("11010519491231002X")
        assert crypto.is_current(token)
    with override_settings(HUZHU_FERNET_KEYS=[NEW, OLD]):
        assert crypto.decrypt(token) == "11010519491231002X"  # old tokens still open
        assert not crypto.is_current(token)
        rotated = crypto.rotate(token)
        assert rotated != token
        assert crypto.is_current(rotated)
        fresh = crypto.encrypt("13800138000")
        assert crypto.is_current(fresh)  # the first key encrypts
    with override_settings(HUZHU_FERNET_KEYS=[NEW]):
        assert crypto.decrypt(rotated) == "11010519491231002X"
        assert crypto.decrypt(fresh) == "13800138000"
        with pytest.raises(ValueError):
            crypto.decrypt(token)


# --- huzhu rotate-keys --------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_keys", *args, stdout=out)
    return out.getvalue()


def stored() -> list[tuple]:
    return list(
        Person.objects.order_by("pk").values_list(
            "pk", "id_number_encrypted", "phone_encrypted", "id_number_hash", "phone_hash"
        )
    )


@pytest.fixture
def people_under_old_key(city):
    with override_settings(HUZHU_FERNET_KEYS=[OLD]):
        ids = [make_id_number() for _ in range(3)]
        people = [
            make_person(city.community_a, "张三", ids[0], "13800138000"),
            make_person(city.community_a, "李四", ids[1], "13900139000"),
            make_person(city.community_b, "王五", ids[2], ""),  # no phone: nothing to rotate
        ]
    return people, ids


@pytest.mark.django_db
def test_rotate_keys_end_to_end(people_under_old_key):
    people, ids = people_under_old_key
    with override_settings(HUZHU_FERNET_KEYS=[NEW, OLD]):
        before = stored()
        audit_before = AuditEntry.objects.count()

        out = run("--check")
        assert out.splitlines() == [
            "people.Person.id_number_encrypted: 3 values, 3 to rotate, 0 undecryptable",
            "people.Person.phone_encrypted: 2 values, 2 to rotate, 0 undecryptable",
            "5 of 5 values are not under the newest key",
        ]
        assert stored() == before  # --check changes nothing
        assert AuditEntry.objects.count() == audit_before

        out = run("--batch-size", "2")
        assert out.splitlines() == [
            "people.Person.id_number_encrypted: 3 values, 3 rotated, 0 undecryptable",
            "people.Person.phone_encrypted: 2 values, 2 rotated, 0 undecryptable",
            "rotated 5 of 5 values",
        ]
        after = stored()
        assert [row[0] for row in after] == [row[0] for row in before]
        for old_row, new_row in zip(before, after, strict=True):
            assert new_row[1] != old_row[1]  # re-encrypted
            assert new_row[3:] == old_row[3:]  # hashes untouched
        assert new_row[2] == old_row[2] == ""  # the empty phone stays empty
        entry = AuditEntry.objects.get(verb="crypto.rotate_keys")
        assert entry.actor_label == "系统"
        assert entry.data == {"checked": 5, "rotated": 5}

        # idempotent: a second run changes nothing
        assert run().splitlines()[-1] == "rotated 0 of 5 values"
        assert stored() == after
        assert run("--check").splitlines()[-1] == "0 of 5 values are not under the newest key"
        assert AuditEntry.objects.filter(verb="crypto.rotate_keys").count() == 1

    with override_settings(HUZHU_FERNET_KEYS=[NEW]):  # the old key can now be dropped
        for person, number in zip(people, ids, strict=True):
            person.refresh_from_db()
            assert person.id_number == number
        assert [p.phone for p in people] == ["13800138000", "13900139000", ""]


@pytest.mark.django_db
def test_rotate_keys_reports_values_no_key_opens(people_under_old_key):
    with override_settings(HUZHU_FERNET_KEYS=[NEW, OTHER]):  # OLD lost before rotation
        before = stored()
        with pytest.raises(CommandError, match="5 values cannot be decrypted"):
            run("--check")
        with pytest.raises(CommandError, match="5 values cannot be decrypted"):
            run()
        assert stored() == before


def test_rotate_keys_is_a_huzhu_command():
    # In a subprocess: an in-process run would call django.setup() and reconfigure logging.
    script = Path(sys.executable).with_name("huzhu")
    result = subprocess.run(
        [str(script), "rotate-keys", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "--check" in result.stdout
    assert "newest key of HUZHU_FERNET_KEYS" in result.stdout


@pytest.mark.django_db
def test_rotate_keys_rejects_a_bad_batch_size():
    with pytest.raises(CommandError, match="at least 1"):
        run("--batch-size", "0")
    assert Person.objects.count() == 0
