"""Citizen ID numbers and mobile numbers (DOMAIN.md §3).

The check character is computed here from the published formula, independently of the code
under test (which uses python-stdnum).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from hypothesis import assume, example, given
from hypothesis import strategies as st
from stdnum.cn import ric

from huzhu.common.identity import (
    CitizenId,
    convert_15_to_18,
    mask_id_number,
    mask_mobile,
    normalise_mobile,
    parse_id_number,
)

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

MSG_REQUIRED = "身份证号不能为空"
MSG_FORMAT = "身份证号应为18位（前17位为数字，末位为数字或X），或15位旧号码"
MSG_DATE = "身份证号中的出生日期无效"
MSG_CHECKSUM = "身份证号校验位不正确，请核对后重新输入"
MSG_MOBILE = "手机号应为以1开头的11位数字"

FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
TODAY = dt.date.today()


def check_char(body17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(body17, WEIGHTS, strict=True)) % 11]


def build_id(area: str, birth: dt.date, order: int) -> str:
    body = f"{area}{birth:%Y%m%d}{order:03d}"
    return body + check_char(body)


def messages(exc_info: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return exc_info.value.messages


areas = st.integers(min_value=110000, max_value=999999).map(str)
births = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)
orders = st.integers(min_value=0, max_value=999)


@st.composite
def valid_ids(draw: st.DrawFn) -> tuple[str, dt.date, int]:
    birth = draw(births)
    order = draw(orders)
    return build_id(draw(areas), birth, order), birth, order


# --- 18-digit numbers ---------------------------------------------------------------------


def test_known_number_from_the_standard():
    # GB 11643-1999's example: 1·7+1·9+0·10+1·5+0·8+5·4+1·2+9·1+4·6+9·3+1·7+2·9+3·10+1·5
    # +0·8+0·4+2·2 = 167; 167 mod 11 = 2; "10X98765432"[2] = "X".
    assert check_char("11010519491231002") == "X"
    assert parse_id_number("11010519491231002X") == CitizenId(
        number="11010519491231002X", birth_date=dt.date(1949, 12, 31), gender="F"
    )


@given(valid_ids())
@example(("11010519491231002X", dt.date(1949, 12, 31), 2))
def test_every_valid_number_parses(case):
    number, birth, order = case
    citizen = parse_id_number(number)
    assert citizen.number == number
    assert citizen.birth_date == birth
    assert citizen.gender == ("M" if order % 2 == 1 else "F")
    assert citizen.masked == number[:4] + "*" * 10 + number[-4:]


@given(valid_ids(), st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_one_changed_character_is_rejected_by_the_checksum(case, position, replacement):
    number = case[0]
    assume(number[position] != replacement)
    assume(position == 17 or replacement != "X")  # only the last character may be X
    changed = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(ValidationError) as exc_info:
        parse_id_number(changed)
    assert messages(exc_info) == [MSG_CHECKSUM]
    assert exc_info.value.code == "checksum"


@given(valid_ids())
def test_lowercase_x_full_width_and_separators_are_normalised(case):
    number = case[0]
    expected = parse_id_number(number)
    assert parse_id_number(number.lower()) == expected
    assert parse_id_number(number.lower().translate(FULL_WIDTH)) == expected
    assert parse_id_number(f" {number[:6]} {number[6:14]} {number[14:]} ") == expected
    assert parse_id_number(f"{number[:6]}-{number[6:14]}-{number[14:]}") == expected


def test_normalisation_examples():
    expected = "11010519491231002X"
    assert parse_id_number("11010519491231002x").number == expected
    assert parse_id_number("１１０１０５１９４９１２３１００２Ｘ").number == expected
    assert parse_id_number("１１０１０５１９４９１２３１００２ｘ").number == expected
    assert parse_id_number("110105 19491231 002X").number == expected
    assert parse_id_number("110105-1949-1231-002x").number == expected
    assert parse_id_number("\t110105\u300019491231002X\n").number == expected  # ideographic space


def test_other_scripts_digits_are_folded_to_ascii():
    # NFKC leaves Arabic-Indic digits alone; stored as such they would hash differently from
    # the same number typed in ASCII and let one person be registered twice.
    arabic = "11010519491231002X".translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert parse_id_number(arabic).number == "11010519491231002X"


# --- 15-digit numbers ---------------------------------------------------------------------


def test_fifteen_digit_number_is_converted():
    # 110105 491231 002 → 110105 19491231 002 + check: sum 167 → "X" (see above).
    assert convert_15_to_18("110105491231002") == "11010519491231002X"
    assert parse_id_number("110105491231002") == CitizenId(
        number="11010519491231002X", birth_date=dt.date(1949, 12, 31), gender="F"
    )
    # A male (odd order 015) born 1 Jan 1970 in Jinan, computed by hand:
    # 3·7+7·9+0·10+1·5+0·8+2·4+1·2+9·1+7·6+0·3+0·7+1·9+0·10+1·5+0·8+1·4+5·2 = 178;
    # 178 mod 11 = 2 → "X".
    assert parse_id_number("370102700101015") == CitizenId(
        number="37010219700101015X", birth_date=dt.date(1970, 1, 1), gender="M"
    )


@given(
    areas,
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31)),
    orders,
)
def test_every_fifteen_digit_number_converts_like_its_eighteen_digit_form(area, birth, order):
    old = f"{area}{birth:%y%m%d}{order:03d}"
    assert parse_id_number(old) == parse_id_number(build_id(area, birth, order))


def test_fifteen_digit_number_with_an_impossible_date_is_rejected():
    with pytest.raises(ValidationError) as exc_info:
        parse_id_number("110105490230002")
    assert messages(exc_info) == [MSG_DATE]


# --- area codes and dates -----------------------------------------------------------------


@pytest.mark.parametrize(
    "area",
    [
        "999999",  # no such code
        "110103",  # 北京市崇文区, merged into 东城区 in 2010
        "110104",  # 北京市宣武区, merged into 西城区 in 2010
    ],
)
def test_unknown_or_retired_area_code_is_accepted(area):
    number = build_id(area, dt.date(1955, 5, 5), 31)
    assert parse_id_number(number).number == number


def test_retired_code_on_a_birth_date_before_it_existed_is_accepted():
    # stdnum's full validate() rejects this (birthplace check); we must not.
    number = build_id("999999", dt.date(1955, 5, 5), 31)
    assert not ric.is_valid(number)
    assert parse_id_number(number).birth_date == dt.date(1955, 5, 5)


@pytest.mark.parametrize("date_part", ["19900230", "19900229", "19901301", "19900001", "19900100"])
def test_impossible_date_is_rejected(date_part):
    body = f"110105{date_part}123"
    with pytest.raises(ValidationError) as exc_info:
        parse_id_number(body + check_char(body))
    assert messages(exc_info) == [MSG_DATE]
    assert exc_info.value.code == "birth_date"


def test_leap_day_is_accepted():
    assert parse_id_number(build_id("110105", dt.date(2000, 2, 29), 1)).birth_date == dt.date(
        2000, 2, 29
    )


def test_future_date_is_rejected():
    tomorrow = TODAY + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as exc_info:
        parse_id_number(build_id("110105", tomorrow, 1))
    assert messages(exc_info) == [MSG_DATE]
    # today itself is fine (a newborn)
    assert parse_id_number(build_id("110105", TODAY, 1)).birth_date == TODAY


def test_future_relative_to_the_given_day():
    number = build_id("110105", dt.date(2024, 1, 2), 1)
    with pytest.raises(ValidationError) as exc_info:
        parse_id_number(number, today=dt.date(2024, 1, 1))
    assert messages(exc_info) == [MSG_DATE]
    assert parse_id_number(number, today=dt.date(2024, 1, 2)).birth_date == dt.date(2024, 1, 2)


def test_implausibly_old_date_is_rejected():
    with pytest.raises(ValidationError) as exc_info:
        parse_id_number(build_id("110105", dt.date(1879, 12, 31), 1))
    assert messages(exc_info) == [MSG_DATE]


# --- format -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", None])
def test_empty_is_required(value):
    with pytest.raises(ValidationError) as exc_info:
        parse_id_number(value)
    assert messages(exc_info) == [MSG_REQUIRED]


@pytest.mark.parametrize(
    "value",
    [
        "11010519491231002",  # 17
        "11010519491231002X1",  # 19
        "1101051949123100X2",  # X not last
        "11010519491231002Y",
        "1101054912310",  # 13
        "11010549123100X",  # 15 with X
        "abcdefghijklmnopqr",
    ],
)
def test_wrong_format_is_rejected(value):
    with pytest.raises(ValidationError) as exc_info:
        parse_id_number(value)
    assert messages(exc_info) == [MSG_FORMAT]


# --- mobile numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "13800138000",
        " 138 0013 8000 ",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+86-138-0013-8000",
        "+8613800138000",
        "0086 13800138000",
        "(+86)13800138000",
        "8613800138000",
        "１３８００１３８０００",
    ],
)
def test_mobile_is_normalised(value):
    assert normalise_mobile(value) == "13800138000"


@given(st.sampled_from("3456789"), st.text("0123456789", min_size=9, max_size=9))
def test_every_mobile_prefix_13_to_19_is_accepted(second, rest):
    number = f"1{second}{rest}"
    assert normalise_mobile(number) == number
    assert normalise_mobile(f"+86 {number[:3]}-{number[3:7]}-{number[7:]}") == number


@pytest.mark.parametrize(
    "value",
    [
        "",
        "12800138000",  # 12x is not a mobile prefix
        "10800138000",
        "23800138000",
        "1380013800",  # 10 digits
        "138001380001",  # 12 digits
        "+85213800138000",  # not mainland
        "1380013800X",
        "010-12345678",  # a landline
    ],
)
def test_bad_mobile_is_rejected(value):
    with pytest.raises(ValidationError) as exc_info:
        normalise_mobile(value)
    assert messages(exc_info) == [MSG_MOBILE]


# --- masking ------------------------------------------------------------------------------


def test_masks():
    assert mask_id_number("11010519900307123X") == "1101**********123X"
    assert mask_id_number("110105900307123") == "1101*******7123"
    assert mask_mobile("13812341234") == "138****1234"
    assert mask_id_number("1234") == "****"
    assert mask_mobile("1234") == "****"
