"""A logging filter that masks ID numbers and mobile numbers in every log line."""

from __future__ import annotations

import logging
import re

from huzhu.common.identity import mask_id_number, mask_mobile

_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_MOBILE_LIKE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")


def scrub(text: str) -> str:
    text = _ID_LIKE.sub(lambda m: mask_id_number(m.group(1).upper()), text)
    return _MOBILE_LIKE.sub(lambda m: mask_mobile(m.group(1)), text)


class PersonalDataFilter(logging.Filter):
    """Render the message, mask personal numbers in it, keep the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logged as is
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
