"""Check-in credentials: the rotating QR token and the distance check.

The organiser's screen shows a QR code that encodes the shift and an HMAC of the current
time window. A token is accepted during its own window and the one after it, so a photo of
the code sent to a friend stops working within ``2 × QR_WINDOW_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets

QR_WINDOW_SECONDS = 30
EARTH_RADIUS_M = 6_371_000


def new_secret() -> str:
    return secrets.token_hex(32)


def new_code() -> str:
    """A six-digit per-shift check-in code (leading zeros allowed)."""
    return f"{secrets.randbelow(1_000_000):06d}"


def _window(at: dt.datetime) -> int:
    return int(at.timestamp()) // QR_WINDOW_SECONDS


def _token_for(secret: str, shift_id: int, window: int) -> str:
    message = f"{shift_id}:{window}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:16]


def qr_token(*, secret: str, shift_id: int, at: dt.datetime) -> str:
    return _token_for(secret, shift_id, _window(at))


def qr_token_valid(*, secret: str, shift_id: int, token: str, at: dt.datetime) -> bool:
    now = _window(at)
    return any(
        hmac.compare_digest(_token_for(secret, shift_id, window), token or "")
        for window in (now, now - 1)
    )


def seconds_to_next_window(at: dt.datetime) -> int:
    return QR_WINDOW_SECONDS - int(at.timestamp()) % QR_WINDOW_SECONDS


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> int:
    """Great-circle distance in metres (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lng2 - lng1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(math.sqrt(a)))
