"""Chinese identity conventions: citizen ID numbers and mobile numbers (DOMAIN.md §3).

The check character and the birth date are validated with python-stdnum's building blocks;
its birthplace check is deliberately not used, because real numbers keep area codes that
have since been retired or did not exist on the holder's birth date.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.cn import ric

# ASCII digits only: Python's ``\d`` also matches Arabic-Indic and other decimal digits.
ID_PATTERN_18 = re.compile(r"^[0-9]{17}[0-9X]$")
ID_PATTERN_15 = re.compile(r"^[0-9]{15}$")
MOBILE_PATTERN = re.compile(r"^1[3-9][0-9]{9}$")


def normalise_text(value: str) -> str:
    """Full-width to half-width, every decimal digit to ASCII, drop every kind of space and
    separator, upper-case."""
    value = unicodedata.normalize("NFKC", value or "")
    # NFKC folds full-width digits but not other scripts' digits (e.g. '٣'); fold those too,
    # or the same number typed two ways would get two different hashes.
    value = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in value)
    return re.sub(r"[\s\-_·.]", "", value).upper()


@dataclass(frozen=True)
class CitizenId:
    number: str
    birth_date: dt.date
    gender: str  # "M" or "F"

    @property
    def masked(self) -> str:
        return mask_id_number(self.number)


def convert_15_to_18(number: str) -> str:
    """A 15-digit number (pre-1999) gets the century ``19`` and a computed check character."""
    body = number[:6] + "19" + number[6:]
    return body + ric.calc_check_digit(body + "0")  # the function ignores the last character


def parse_id_number(value: str, today: dt.date | None = None) -> CitizenId:
    """Normalise and validate a 公民身份号码; raise ValidationError with a Chinese message."""
    number = normalise_text(value)
    if not number:
        raise ValidationError(_("身份证号不能为空"), code="required")
    if ID_PATTERN_15.match(number):
        number = convert_15_to_18(number)
    if not ID_PATTERN_18.match(number):
        raise ValidationError(
            _("身份证号应为18位（前17位为数字，末位为数字或X），或15位旧号码"), code="format"
        )
    # The check character first: a mistyped digit anywhere (the date included) is reported
    # as a typo to re-check, which is what it almost always is.
    if ric.calc_check_digit(number) != number[-1]:
        raise ValidationError(_("身份证号校验位不正确，请核对后重新输入"), code="checksum")
    try:
        birth = ric.get_birth_date(number)
    except Exception as exc:
        raise ValidationError(_("身份证号中的出生日期无效"), code="birth_date") from exc
    today = today or dt.date.today()
    if birth > today or birth.year < 1880:
        raise ValidationError(_("身份证号中的出生日期无效"), code="birth_date")
    gender = "M" if int(number[16]) % 2 == 1 else "F"
    return CitizenId(number=number, birth_date=birth, gender=gender)


def normalise_mobile(value: str) -> str:
    """Return an 11-digit mainland mobile number or raise ValidationError."""
    number = normalise_text(value).replace("(", "").replace(")", "")
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            number = number[len(prefix) :]
    if len(number) == 13 and number.startswith("86"):  # country code typed without "+"
        number = number[2:]
    if not MOBILE_PATTERN.match(number):
        raise ValidationError(_("手机号应为以1开头的11位数字"), code="mobile")
    return number


def mask_id_number(number: str) -> str:
    """1101**********123X — the first four and last four characters only."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_mobile(number: str) -> str:
    """138****1234."""
    if len(number) != 11:
        return "*" * len(number)
    return number[:3] + "****" + number[-4:]


def mask_phone(phone: str) -> str:
    """Any phone number, mobile or landline, masked for display: 138****5678, 053****6666."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


def mask_name(name: str) -> str:
    """张** — the family name only (two-character family names such as 欧阳 are kept)."""
    from huzhu.common.surnames import COMPOUND_SURNAMES

    name = name.strip()
    if not name:
        return ""
    keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:keep] + "*" * max(len(name) - keep, 1)
