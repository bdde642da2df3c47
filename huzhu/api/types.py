"""Input types shared by every router: bounded ids and texts that the database will accept.

Bounds live here so bad input is refused as a 422 before it reaches a query: an id beyond
64 bits or a string with a NUL character would otherwise become a database error (500).
"""

from __future__ import annotations

from typing import Annotated

from ninja import Schema
from pydantic import AfterValidator, Field

MAX_ID = 2**63 - 1
MAX_INT = 2**31 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("不能包含空字符")
    return value


ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]
SmallInt = Annotated[int, Field(ge=-MAX_INT - 1, le=MAX_INT)]


def text(max_length: int) -> object:
    """A string of at most ``max_length`` characters without NUL."""
    return Annotated[str, Field(max_length=max_length), AfterValidator(_no_nul)]


Text20 = text(20)
Text30 = text(30)
Text50 = text(50)
Text100 = text(100)
Text200 = text(200)
Text2000 = text(2000)


class ErrorOut(Schema):
    detail: str


class FieldErrorOut(Schema):
    field: str
    message: str


class ValidationErrorOut(Schema):
    detail: list[FieldErrorOut]


# An item of a list by id and name: an org, a classification item.
class NamedOut(Schema):
    id: int
    name: str
