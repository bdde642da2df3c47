"""Refusals in the protocol's own terms: an HTTP status and a description."""

from __future__ import annotations


class Open311Error(Exception):
    """Answered as the spec's error list ``[{"code": status, "description": …}]``."""

    def __init__(self, status: int, description: str) -> None:
        self.status = status
        self.description = description
        super().__init__(description)
