"""A logging filter that masks ID numbers and mobile numbers in every log line."""

from __future__ import annotations

import logging
import re

from huzhu.common.identity import mask_id_number, mask_mobile

# Bounded by non-digits only (letters may touch: "id110105…", "?q=138…&x"). A longer run of
# digits is some other number and is left alone, as are 12-digit division codes.
_ID_LIKE = re.compile(r"(?<![0-9])([0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9])")
# 13800138000, +8613800138000, 0086 138-0013-8000, 138 0013 8000.
_MOBILE_LIKE = re.compile(
    r"(?<![0-9])((?:\+86|0086|86)[ -]?)?(1[3-9][0-9])[ -]?([0-9]{4})[ -]?([0-9]{4})(?![0-9])"
)


def _mask_mobile(match: re.Match[str]) -> str:
    return (match.group(1) or "") + mask_mobile("".join(match.group(2, 3, 4)))


def scrub(text: str) -> str:
    text = _ID_LIKE.sub(lambda m: mask_id_number(m.group(1).upper()), text)
    return _MOBILE_LIKE.sub(_mask_mobile, text)


class PersonalDataFilter(logging.Filter):
    """Render the message, mask personal numbers in it and in any traceback, keep the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logged as is
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse a cached exc_text, so the masked traceback is what they print.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True
