"""The log filter that masks personal numbers in every log line."""

from __future__ import annotations

import io
import logging

import pytest

from huzhu.common.logging import PersonalDataFilter, scrub


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证 11010519491231002X 已登记", "身份证 1101**********002X 已登记"),
        ("id=11010519491231002x", "id=1101**********002X"),
        ("id110105199003071234", "id1101**********1234"),  # a letter touching is no shield
        ("旧号110105491231002号", "旧号1101*******1002号"),
        ("tel 13800138000.", "tel 138****8000."),
        ("电话13800138000，", "电话138****8000，"),
        ("?q=13800138000&page=2", "?q=138****8000&page=2"),
        ("+8613800138000", "+86138****8000"),
        ("0086 138-0013-8000", "0086 138****8000"),
        ("138 0013 8000", "138****8000"),
        ("phones: 13800138000,19912345678", "phones: 138****8000,199****5678"),
    ],
)
def test_scrub_masks_personal_numbers(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "division 370102001001 street",  # 12-digit statistical division code
        "division 130102001001",  # one that starts like a mobile number
        "area 370102",
        "person 42 org 7",
        "12800138000",  # 12x is no mobile prefix
        "1380013800",  # 10 digits
        "138001380001",  # 12 digits
        "1234567890123456",  # 16 digits
        "1101051949123100212",  # 19 digits: longer than any ID
        "2024-06-15 13:45:12,345 INFO",
        "ms 1718430312345",  # 13-digit timestamp
        "1101**********002X",  # already masked
    ],
)
def test_scrub_leaves_other_numbers_alone(text):
    assert scrub(text) == text


def record(msg, args=None, exc_info=None):
    return logging.LogRecord("huzhu.test", logging.INFO, __file__, 1, msg, args, exc_info)


def test_filter_masks_formatted_args():
    rec = record(
        "注册 %s 手机 %s 社区 %s 序号 %d", ("11010519491231002x", "13800138000", "370102001001", 42)
    )
    assert PersonalDataFilter().filter(rec) is True
    assert rec.getMessage() == "注册 1101**********002X 手机 138****8000 社区 370102001001 序号 42"


def test_filter_masks_dict_args():
    rec = record("%(phone)s", ({"phone": "13800138000"},))
    PersonalDataFilter().filter(rec)
    assert rec.getMessage() == "138****8000"


def test_filter_keeps_clean_records_untouched():
    args = ("370102001001", 42)
    rec = record("org %s id %d", args)
    PersonalDataFilter().filter(rec)
    assert (rec.msg, rec.args) == ("org %s id %d", args)


def test_filter_keeps_a_malformed_record():
    rec = record("%s %s", ("only one",))
    assert PersonalDataFilter().filter(rec) is True
    assert rec.args == ("only one",)


def test_filter_masks_tracebacks():
    try:
        raise ValueError("bad phone 13800138000")
    except ValueError:
        import sys

        rec = record("failed", exc_info=sys.exc_info())
    PersonalDataFilter().filter(rec)
    text = logging.Formatter().format(rec)
    assert "ValueError: bad phone 138****8000" in text
    assert "13800138000" not in text


@pytest.fixture
def configured_output():
    """The stream of the console handler configured by settings.LOGGING."""
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler)
        and any(isinstance(f, PersonalDataFilter) for f in h.filters)
    ]
    assert handlers, "settings.LOGGING must put the PII filter on the root console handler"
    buffer = io.StringIO()
    previous = [h.stream for h in handlers]
    for handler in handlers:  # not setStream(): it flushes the old stream, which pytest may
        handler.stream = buffer  # have closed already
    yield buffer
    for handler, stream in zip(handlers, previous, strict=True):
        handler.stream = stream


def test_configured_logger_masks_its_output(configured_output):
    logger = logging.getLogger("huzhu.people")
    logger.warning("居民 %s 电话 %s 社区 %s", "11010519491231002X", "13800138000", "370102001001")
    try:
        raise RuntimeError("duplicate 11010519491231002X")
    except RuntimeError:
        logger.exception("failed for %s", "+86 138 0013 8000")
    output = configured_output.getvalue()
    assert "居民 1101**********002X 电话 138****8000 社区 370102001001" in output
    assert "failed for +86 138****8000" in output
    assert "RuntimeError: duplicate 1101**********002X" in output
    for plain in ("11010519491231002X", "13800138000", "138 0013 8000"):
        assert plain not in output
