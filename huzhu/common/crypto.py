"""Encryption at rest and keyed hashes for personal data (DESIGN.md §3).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256). ``HUZHU_FERNET_KEYS`` lists
keys newest first; every key decrypts, the first encrypts, so rotation is: put a new key
first, run ``huzhu rotate-keys``, then drop the old key. Exact lookups and uniqueness use an
HMAC-SHA256 of the normalised value under ``HUZHU_HASH_KEY``, which never rotates silently.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.HUZHU_FERNET_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # a key was dropped before rotation finished
        raise ValueError("encrypted value cannot be decrypted with the configured keys") from exc


def rotate(token: str) -> str:
    """Re-encrypt ``token`` under the newest key."""
    return fernet().rotate(token.encode()).decode()


def is_current(token: str) -> bool:
    """Whether ``token`` is encrypted under the newest key. Fernet tokens do not name their
    key, so this tries the first key alone."""
    try:
        _fernet(tuple(settings.HUZHU_FERNET_KEYS[:1])).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def keyed_hash(value: str, purpose: str) -> str:
    """Deterministic HMAC of a normalised value; ``purpose`` separates kinds of value."""
    message = f"{purpose}:{value}".encode()
    return hmac.new(settings.HUZHU_HASH_KEY.encode(), message, hashlib.sha256).hexdigest()
