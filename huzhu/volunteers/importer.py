"""Excel import of paper volunteer registers (名册导入; issue 3, item 8).

``volunteer_import`` reads an .xlsx register in constant memory (openpyxl read-only mode),
finds the header row under any title rows, maps columns by header (any order, the usual
variants), validates every row in Python and writes the valid ones in batches: one bulk
look-up of the people already on file per batch, bulk inserts of people, registrations,
list links, team memberships and status history, and one audit entry for the whole import.

Modes: by default every valid row is committed (one transaction) and every bad row is
reported; ``strict`` commits nothing when any row is bad; ``dry_run`` validates and counts
without writing. Re-importing a file creates no duplicates: a registered ID number updates
that registration's classification and team, or counts as unchanged.

Registration semantics are those of ``services.volunteer_register`` for a worker's entry:
status 已注册 with the importing user as approver, one registration per person, guardian
consent and guardian name for minors. Memory held across the whole file: the ID numbers
seen (for duplicates inside the file, about 100 bytes a row) and the errors.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common import crypto
from huzhu.common.audit import log_action
from huzhu.common.identity import (
    CitizenId,
    mask_mobile,
    normalise_mobile,
    parse_id_number,
)
from huzhu.common.logging import scrub
from huzhu.orgs.models import RESIDENCE_KINDS, Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Gender, Person
from huzhu.people.services import id_number_hash, person_build
from huzhu.volunteers.availability import describe, parse_text
from huzhu.volunteers.models import (
    PoliticalStatus,
    RegistrationSource,
    ServedGroup,
    ServiceCategory,
    Skill,
    TeamMembership,
    TeamRole,
    Volunteer,
    VolunteerStatus,
    VolunteerStatusChange,
)
from huzhu.volunteers.services import ADULT_AGE, issue_numbers

BATCH_SIZE = 1000
HEADER_SCAN_ROWS = 10  # the header row is looked for in the first rows of a sheet
HEADER_MIN_MATCHES = 3
PREVIEW_ROWS = 20
# Kinds of org a register may be imported into: a residence, or an administrative unit
# above residences (then every row names its community or grid).
IMPORT_KINDS = frozenset(
    {OrgKind.CITY, OrgKind.DISTRICT, OrgKind.STREET, OrgKind.COMMUNITY, OrgKind.GRID}
)


# --- columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # the canonical header, used in messages when the file lacks the column
    variants: tuple[str, ...]  # most specific first: it wins when two columns match
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", ("姓名", "志愿者姓名"), required=True),
    Column(
        "id_number",
        "身份证号",
        ("身份证号", "身份证号码", "公民身份号码", "公民身份证号码", "证件号码", "身份证"),
        required=True,
    ),
    Column("phone", "手机号码", ("手机号码", "手机号", "手机", "移动电话", "联系电话", "电话")),
    Column("gender", "性别", ("性别",)),
    Column("birth_date", "出生日期", ("出生日期", "出生年月日")),
    Column("community", "所属社区", ("所属社区", "所属网格", "社区/网格", "社区")),
    Column("team", "服务队", ("服务队", "所属服务队", "加入服务队")),
    Column("skills", "技能", ("技能", "特长", "技能特长", "专业特长", "专业技能")),
    Column("categories", "服务类别", ("服务类别", "服务意向", "服务类型", "服务领域")),
    Column("served_groups", "服务对象", ("服务对象",)),
    Column("availability", "可服务时间", ("可服务时间", "服务时间", "可参加服务时间")),
    Column("political_status", "政治面貌", ("政治面貌",)),
    Column(
        "historical_hours",
        "历史服务时长(小时)",
        ("历史服务时长(小时)", "历史服务时长", "历史时长(小时)", "历史时长"),
    ),
    Column("notes", "备注", ("备注",)),
    Column("address", "住址", ("住址", "家庭住址", "居住地址", "现住址", "地址")),
    Column("guardian_name", "监护人姓名", ("监护人姓名", "监护人")),
    Column("guardian_phone", "监护人电话", ("监护人电话", "监护人手机", "监护人联系电话")),
    Column("guardian_consent", "监护人同意", ("监护人同意", "监护人是否同意")),
    Column("publish_name", "同意公开姓名", ("同意公开姓名", "公开姓名")),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
_VARIANTS: dict[str, tuple[str, int]] = {
    variant: (column.key, rank)
    for column in COLUMNS
    for rank, variant in enumerate(column.variants)
}

POLITICAL_WORDS: dict[str, str] = {
    "中共党员": PoliticalStatus.CPC_MEMBER,
    "中国共产党党员": PoliticalStatus.CPC_MEMBER,
    "党员": PoliticalStatus.CPC_MEMBER,
    "中共预备党员": PoliticalStatus.CPC_PROBATIONARY,
    "预备党员": PoliticalStatus.CPC_PROBATIONARY,
    "共青团员": PoliticalStatus.CYL_MEMBER,
    "团员": PoliticalStatus.CYL_MEMBER,
    "民主党派": PoliticalStatus.DEMOCRATIC_PARTY,
    "民革党员": PoliticalStatus.DEMOCRATIC_PARTY,
    "民盟盟员": PoliticalStatus.DEMOCRATIC_PARTY,
    "民建会员": PoliticalStatus.DEMOCRATIC_PARTY,
    "民进会员": PoliticalStatus.DEMOCRATIC_PARTY,
    "农工党党员": PoliticalStatus.DEMOCRATIC_PARTY,
    "致公党党员": PoliticalStatus.DEMOCRATIC_PARTY,
    "九三学社社员": PoliticalStatus.DEMOCRATIC_PARTY,
    "台盟盟员": PoliticalStatus.DEMOCRATIC_PARTY,
    "群众": PoliticalStatus.MASSES,
}
GENDER_WORDS = {"男": "M", "男性": "M", "M": "M", "女": "F", "女性": "F", "F": "F"}
YES_WORDS = frozenset({"是", "同意", "已同意", "Y", "YES", "TRUE", "1", "√", "✓", "✔", "对"})
NO_WORDS = frozenset({"否", "不同意", "N", "NO", "FALSE", "0", "×", "✗"})

_LIST_SPLIT = re.compile(r"[、,;/\s]+")  # NFKC has folded ，；／ to , ; /
_TEAM_SPLIT = re.compile(r"[、,;/]+")
_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SCIENTIFIC = re.compile(r"^\d+(\.\d+)?E\+?\d+$", re.IGNORECASE)
_HOURS_TEXT = re.compile(r"^(.*?)\s*(小时|h|H|hrs?|时)?$")
_CJK = r"\u3400-\u9fff"
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}·])\s+|\s+(?=[{_CJK}·])")


# --- results ------------------------------------------------------------------------------


class ImportFileError(Exception):
    """The file as a whole cannot be imported (not Excel, empty, no header row …)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RowError:
    row: int  # the Excel row number
    column: str  # the header as written in the file (or the canonical name)
    letter: str  # the Excel column letter, "" when the file has no such column
    reason: str  # Chinese, never an unmasked personal number

    def __str__(self) -> str:
        where = f"{self.column}（{self.letter}列）" if self.letter else self.column
        return _("第%(row)s行 %(where)s：%(reason)s") % {
            "row": self.row,
            "where": where,
            "reason": self.reason,
        }


@dataclass
class ImportResult:
    file_name: str
    sheet: str = ""
    header_row: int = 0
    rows: int = 0  # data rows read (blank rows are skipped)
    imported: int = 0  # new registrations
    updated: int = 0  # registrations that changed
    unchanged: int = 0  # rows identical to the stored registration
    rejected: int = 0  # bad rows
    errors: list[RowError] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False
    strict: bool = False
    committed: bool = False  # whether anything was written

    @property
    def valid(self) -> int:
        return self.imported + self.updated + self.unchanged

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})

    def summary_line(self) -> str:
        return f"imported {self.imported}, updated {self.updated}, rejected {self.rejected}"

    def reasons_by_row(self) -> dict[int, str]:
        reasons: dict[int, list[str]] = {}
        for error in self.errors:
            reasons.setdefault(error.row, []).append(f"{error.column}：{error.reason}")
        return {row: "；".join(parts) for row, parts in reasons.items()}

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON (masked numbers only)."""
        return {
            "file_name": self.file_name,
            "sheet": self.sheet,
            "header_row": self.header_row,
            "rows": self.rows,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors": [[e.row, e.column, e.letter, e.reason] for e in self.errors],
            "preview": self.preview,
            "dry_run": self.dry_run,
            "strict": self.strict,
            "committed": self.committed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportResult:
        values = dict(data)
        values["errors"] = [RowError(*e) for e in values.get("errors", [])]
        return cls(**values)


# --- cells --------------------------------------------------------------------------------


def normalise_header(value: Any) -> str:
    text = unicodedata.normalize("NFKC", str(value or ""))
    text = _SPACES.sub("", text).strip("*:：")
    return text.replace("*", "").upper()


def _header_key(value: Any) -> tuple[str, int] | None:
    text = normalise_header(value)
    if not text:
        return None
    candidates = [text]
    bare = re.sub(r"\(.*?\)$", "", text)  # 姓名(必填), 身份证号(18位)
    if bare != text:
        candidates.append(bare)
    if "/" in text:  # 技能/特长, 手机/电话
        candidates.extend(part for part in text.split("/") if part)
    for candidate in candidates:
        if candidate in _VARIANTS:
            return _VARIANTS[candidate]
    return None


_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return _SPACES.sub(" ", text).strip()


# Registers repeat the same few words column after column (社区, 服务队, 类别 …); those cells
# go through a cache. Personal values (names, numbers, dates) never do.
_clean_word = lru_cache(maxsize=4096)(_clean)


def _text(value: Any, *, word: bool = False) -> str:
    """A cell as clean text: full-width folded, spaces trimmed and collapsed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _clean_word(value) if word else _clean(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    return _clean(str(value))


def _free_text(value: Any) -> str:
    """Notes and addresses: trimmed, but Chinese punctuation kept as written."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return _text(value)
    return _SPACES.sub(" ", value).strip()


def _name_text(value: Any) -> str:
    """Names: no spaces next to Chinese characters (张 三 → 张三); Latin names keep theirs."""
    text = _text(value)
    return _SPACE_NEAR_CJK.sub("", text) if " " in text else text


def _key_text(value: Any) -> str:
    """For matching names of orgs, teams and list items: no spaces at all."""
    return _text(value, word=True).replace(" ", "")


def _split(text: str, pattern: re.Pattern[str] = _LIST_SPLIT) -> list[str]:
    seen: dict[str, None] = {}
    for part in pattern.split(text):
        part = part.strip()
        if part:
            seen.setdefault(part, None)
    return list(seen)


def _yes_no(text: str) -> bool | None:
    value = text.strip().upper()
    if value in YES_WORDS:
        return True
    if value in NO_WORDS:
        return False
    return None


def parse_date(value: Any) -> dt.date:
    """1985-03-02, 1985/3/2, 1985.3.2, 1985年3月2日, 19850302, Excel serial numbers and
    date cells. Raises ValueError with a Chinese message."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise ValueError(_("无法识别的日期"))
    if isinstance(value, int | float):
        if isinstance(value, int) or value.is_integer():
            compact = _DATE_COMPACT.match(str(int(value)))
            if compact:
                return _make_date(*compact.groups())
        if 1 <= value < 2958466:  # Excel's serial day numbers (1900 date system)
            from openpyxl.utils.datetime import from_excel

            result = from_excel(value)
            return result.date() if isinstance(result, dt.datetime) else result
        raise ValueError(_("无法识别的日期"))
    text = _text(value)
    text = re.sub(r"[ T]\d{1,2}:\d{2}(:\d{2})?$", "", text)  # a time of day left by a paste
    match = _DATE_TEXT.match(text) or _DATE_COMPACT.match(text)
    if not match:
        raise ValueError(_("无法识别的日期格式，请写成 1985-03-02、1985/3/2 或 1985年3月2日"))
    return _make_date(*match.groups())


def _make_date(year: str, month: str, day: str) -> dt.date:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError as exc:
        raise ValueError(_("日期不存在（请核对年、月、日）")) from exc


def _hours_to_minutes(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(_("历史服务时长应为数字（小时）"))
    if isinstance(value, int | float):
        amount = Decimal(str(value))
    else:
        text = _text(value)
        match = _HOURS_TEXT.match(text)
        try:
            amount = Decimal((match.group(1) if match else text).strip())
        except InvalidOperation as exc:
            raise ValueError(_("历史服务时长应为数字（小时），如 12.5")) from exc
    if not amount.is_finite():
        raise ValueError(_("历史服务时长应为数字（小时），如 12.5"))
    if amount < 0:
        raise ValueError(_("历史服务时长不能为负数"))
    if amount > 100000:
        raise ValueError(_("历史服务时长过大，请核对（单位为小时）"))
    return int((amount * 60).to_integral_value())


def _id_text(value: Any) -> str:
    """The ID cell as text; a number means Excel has already rounded the last digits away
    (it keeps 15 significant digits), unless it is an old 15-digit number."""
    if isinstance(value, bool):
        raise ValidationError(_("身份证号格式不正确"))
    if isinstance(value, int) and len(str(abs(value))) <= 15:
        return str(value)
    if isinstance(value, int | float):
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        raise ValidationError(
            _("身份证号被Excel存成了数字，后几位已丢失：请把该列设置为“文本”格式后重新录入身份证号")
        )
    text = _text(value)
    if _SCIENTIFIC.match(text.replace(" ", "")):
        raise ValidationError(
            _(
                "身份证号显示为科学计数法（如1.10105E+17），后几位已丢失：请把该列设置为“文本”格式后重新录入身份证号"
            )
        )
    return text


def _phone_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _text(value)


# --- reading the workbook -----------------------------------------------------------------


class Register:
    """An opened register: the sheet, its header row, the columns found, and the data rows
    streamed in order. Use as a context manager (it holds the file open)."""

    def __init__(
        self,
        workbook: Any,
        handle: IO[bytes] | None,
        sheet: str,
        header_row: int,
        headers: list[str],
        columns: dict[str, int],
        rows: Iterator[tuple[int, tuple[Any, ...]]],
    ) -> None:
        self._workbook = workbook
        self._handle = handle
        self.sheet = sheet
        self.header_row = header_row
        self.headers = headers  # the header row as written, one entry per cell
        self.columns = columns  # column key → 0-based cell index
        self._rows = rows

    def __enter__(self) -> Register:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._workbook.close()
        if self._handle is not None:
            self._handle.close()

    def rows(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """(Excel row number, cell values) for every non-blank row under the header."""
        for number, cells in self._rows:
            if any(_text(c) for c in cells):
                yield number, cells

    def header_of(self, key: str) -> tuple[str, str]:
        """(header text as in the file, column letter) — or the canonical name and ""."""
        from openpyxl.utils import get_column_letter

        index = self.columns.get(key)
        if index is None:
            return COLUMN_BY_KEY[key].label, ""
        return _text(self.headers[index]) or COLUMN_BY_KEY[key].label, get_column_letter(index + 1)


def _load_workbook(handle: IO[bytes]) -> Any:
    import openpyxl

    head = handle.read(8)
    handle.seek(0)
    if not head:
        raise ImportFileError(_("文件是空的"))
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            _("这是旧版Excel（.xls）文件：请在Excel中“另存为”Excel工作簿（.xlsx）后再导入")
        )
    if not head.startswith(b"PK\x03\x04"):
        raise ImportFileError(_("文件不是Excel工作簿（.xlsx）：请选择用Excel保存的.xlsx文件"))
    try:
        return openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # zip, XML or openpyxl errors: the file is not a usable workbook
        raise ImportFileError(
            _("文件不是有效的Excel工作簿（.xlsx），可能已损坏或是其他格式的文件")
        ) from exc


def _detect_header(row: tuple[Any, ...]) -> dict[str, int] | None:
    best: dict[str, tuple[int, int]] = {}  # key → (variant rank, index)
    for index, value in enumerate(row):
        found = _header_key(value)
        if found is None:
            continue
        key, rank = found
        if key not in best or rank < best[key][0]:
            best[key] = (rank, index)
    if len(best) < HEADER_MIN_MATCHES:
        return None
    return {key: index for key, (_rank, index) in best.items()}


def open_register(source: str | Path | IO[bytes]) -> Register:
    """Open ``source`` (a path or a binary file object) and find the register in it: the
    first sheet with a header row among its first rows. Raises ImportFileError."""
    handle: IO[bytes] | None = None
    if isinstance(source, str | Path):
        try:
            handle = open(source, "rb")  # noqa: SIM115 — the Register closes it
        except OSError as exc:
            raise ImportFileError(
                _("无法打开文件：%(name)s") % {"name": Path(source).name}
            ) from exc
        stream: IO[bytes] = handle
    else:
        stream = source
        stream.seek(0)
    try:
        workbook = _load_workbook(stream)
    except ImportFileError:
        if handle is not None:
            handle.close()
        raise
    had_data = False
    try:
        for worksheet in workbook.worksheets:
            if not hasattr(worksheet, "iter_rows"):
                continue
            worksheet.reset_dimensions()  # the stored size is often wrong; read what is there
            iterator = enumerate(worksheet.iter_rows(values_only=True), start=1)
            scanned: list[tuple[int, tuple[Any, ...]]] = []
            for number, cells in iterator:
                scanned.append((number, cells))
                if len(scanned) >= HEADER_SCAN_ROWS:
                    break
            for position, (number, cells) in enumerate(scanned):
                if any(_text(c) for c in cells):
                    had_data = True
                columns = _detect_header(cells)
                if columns is None:
                    continue
                missing = [c for c in COLUMNS if c.required and c.key not in columns]
                if missing:
                    names = "、".join(f"{c.label}（{'/'.join(c.variants[:4])}）" for c in missing)
                    raise ImportFileError(
                        _("第%(row)s行的表头缺少必需的列：%(names)s")
                        % {"row": number, "names": names}
                    )
                rest = scanned[position + 1 :]

                def rows(
                    rest: list[tuple[int, tuple[Any, ...]]] = rest,
                    iterator: Iterator[tuple[int, tuple[Any, ...]]] = iterator,
                ) -> Iterator[tuple[int, tuple[Any, ...]]]:
                    yield from rest
                    yield from iterator

                return Register(
                    workbook,
                    handle,
                    worksheet.title,
                    number,
                    list(cells),
                    columns,
                    rows(),
                )
    except ImportFileError:
        workbook.close()
        if handle is not None:
            handle.close()
        raise
    workbook.close()
    if handle is not None:
        handle.close()
    if not had_data:
        raise ImportFileError(_("工作表是空的，没有任何数据"))
    raise ImportFileError(
        _(
            "在前%(n)s行中没有找到表头行：表头应至少包含“姓名”“身份证号”等%(m)s个列名"
            "（表头上方可以有标题行）"
        )
        % {"n": HEADER_SCAN_ROWS, "m": HEADER_MIN_MATCHES}
    )


# --- parsing rows -------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    row: int
    name: str
    citizen: CitizenId
    id_hash: str
    phone: str
    address: str
    org: Org | None  # the residence named by 所属社区, or the import org; None: not given
    org_given: bool
    teams: list[Org]
    skills: list[str] | None  # None: the cell is blank (leave the stored value)
    categories: list[int] | None
    served_groups: list[int] | None
    availability: int | None
    political_status: str | None
    historical_minutes: int | None
    notes: str | None
    guardian_name: str
    guardian_phone: str
    guardian_consent: bool
    publish_name: bool | None


class _Importer:
    def __init__(
        self,
        *,
        actor: Any,
        scope: Scope,
        org: Org,
        register: Register,
        result: ImportResult,
        today: dt.date,
        write: bool,
    ) -> None:
        self.actor = actor if getattr(actor, "is_authenticated", False) else None
        self.actor_label = self.actor.get_username() if self.actor else _("系统")
        self.scope = scope
        self.org = org
        self.register = register
        self.result = result
        self.today = today
        self.write = write
        self.now = timezone.now()
        self.touched: list[int] = []  # volunteers written: their match profiles are refreshed
        self.seen: dict[int, int] = {}  # first 17 digits of an ID → first row with it
        self.cols = register.columns
        self._headers = {key: register.header_of(key) for key in COLUMN_BY_KEY}
        self._load_lookups()

    # lookups, loaded once per import

    def _load_lookups(self) -> None:
        org = self.org
        if org.kind in RESIDENCE_KINDS:
            residences = [org]
            if org.kind == OrgKind.COMMUNITY:
                residences += list(
                    Org.objects.filter(parent=org, kind=OrgKind.GRID, is_active=True)
                )
        else:
            residences = list(
                Org.objects.filter(
                    path__startswith=org.path, kind__in=RESIDENCE_KINDS, is_active=True
                )
            )
        self.residences: dict[str, Org | None] = {}
        for place in residences:
            key = _key_text(place.name)
            self.residences[key] = None if key in self.residences else place  # None: ambiguous
        self.community_of = {
            place.pk: place.pk if place.kind == OrgKind.COMMUNITY else place.parent_id
            for place in residences
        }
        self.teams: dict[tuple[int, str], Org] = {}
        teams = Org.objects.filter(
            kind=OrgKind.TEAM,
            is_active=True,
            parent__kind=OrgKind.CORPS,
            parent__parent_id__in=set(self.community_of.values()),
        ).select_related("parent")
        for team in teams:
            self.teams[(team.parent.parent_id, _key_text(team.name))] = team
        self.categories = {
            _key_text(n): pk
            for pk, n in ServiceCategory.objects.filter(is_active=True).values_list("pk", "name")
        }
        self.groups = {
            _key_text(n): pk
            for pk, n in ServedGroup.objects.filter(is_active=True).values_list("pk", "name")
        }
        self.skills: dict[str, int] = {
            name: pk for pk, name in Skill.objects.values_list("pk", "name")
        }
        self._can_team: dict[int, bool] = {}

    def _can_manage_team(self, team: Org) -> bool:
        if team.pk not in self._can_team:
            self._can_team[team.pk] = self.scope.can(Perm.VOLUNTEER_MANAGE, team) or self.scope.can(
                Perm.TEAM_MANAGE, team
            )
        return self._can_team[team.pk]

    # one row

    def _cell(self, cells: tuple[Any, ...], key: str) -> Any:
        index = self.cols.get(key)
        if index is None or index >= len(cells):
            return None
        return cells[index]

    def error(self, errors: list[RowError], row: int, key: str, reason: str) -> None:
        column, letter = self._headers[key]
        errors.append(RowError(row, column, letter, scrub(str(reason))))

    def parse(self, number: int, cells: tuple[Any, ...]) -> tuple[_Row | None, list[RowError]]:
        errors: list[RowError] = []

        def fail(key: str, reason: str) -> None:
            self.error(errors, number, key, reason)

        def text(key: str) -> str:  # a column of words (not personal values)
            return _text(self._cell(cells, key), word=True)

        name = _name_text(self._cell(cells, "name"))
        if not name:
            fail("name", _("姓名不能为空"))
        elif len(name) > 50:
            fail("name", _("姓名不能超过50个字"))

        citizen: CitizenId | None = None
        try:
            raw_id = _id_text(self._cell(cells, "id_number"))
            citizen = parse_id_number(raw_id, today=self.today)
        except ValidationError as exc:
            fail("id_number", exc.messages[0])
        if citizen is not None:
            key = int(citizen.number[:17])
            first = self.seen.get(key)
            if first is not None:
                fail("id_number", _("与第%(row)s行的身份证号重复") % {"row": first})
            else:
                self.seen[key] = number

        gender = text("gender")
        if gender:
            code = GENDER_WORDS.get(gender.upper())
            if code is None:
                fail("gender", _("性别应填“男”或“女”"))
            elif citizen is not None and code != citizen.gender:
                fail(
                    "gender",
                    _("性别与身份证号不符（按身份证号应为“%(g)s”）")
                    % {"g": Gender(citizen.gender).label},
                )
        birth_cell = self._cell(cells, "birth_date")
        if _text(birth_cell):
            try:
                birth = parse_date(birth_cell)
            except ValueError as exc:
                fail("birth_date", str(exc))
            else:
                if citizen is not None and birth != citizen.birth_date:
                    fail("birth_date", _("出生日期与身份证号中的出生日期不一致"))

        phone = ""
        phone_raw = _phone_text(self._cell(cells, "phone"))
        if phone_raw:
            try:
                phone = normalise_mobile(phone_raw)
            except ValidationError as exc:
                fail("phone", exc.messages[0])

        org: Org | None = None
        community_text = _key_text(self._cell(cells, "community"))
        if community_text:
            if community_text not in self.residences:
                fail(
                    "community",
                    _("在“%(org)s”下找不到社区或网格“%(name)s”")
                    % {"org": self.org.name, "name": community_text},
                )
            elif self.residences[community_text] is None:
                fail(
                    "community",
                    _("“%(name)s”有重名的社区或网格，请改为导入到该社区")
                    % {"name": community_text},
                )
            else:
                org = self.residences[community_text]
        elif self.org.kind in RESIDENCE_KINDS:
            org = self.org
        else:
            fail(
                "community",
                _("所属社区不能为空：导入到“%(org)s”时每一行都须填写所属社区或网格")
                % {"org": self.org.name},
            )

        teams: list[Org] = []
        for team_name in _split(_key_text(self._cell(cells, "team")), _TEAM_SPLIT):
            if org is None:
                break
            team = self.teams.get((self.community_of[org.pk], team_name))
            if team is None:
                fail(
                    "team",
                    _("社区志愿者总队下没有服务队“%(name)s”") % {"name": team_name},
                )
            elif not self._can_manage_team(team):
                fail("team", _("您没有管理服务队“%(name)s”的权限") % {"name": team_name})
            else:
                teams.append(team)

        skills: list[str] | None = None
        skill_text = text("skills")
        if skill_text:
            skills = sorted({s[:30] for s in _split(skill_text)})

        def ids(key: str, table: dict[str, int], label: str) -> list[int] | None:
            value = text(key)
            if not value:
                return None
            found: list[int] = []
            for item in _split(value):
                pk = table.get(item)
                if pk is None:
                    fail(key, _("%(label)s“%(value)s”不存在") % {"label": label, "value": item})
                else:
                    found.append(pk)
            return sorted(set(found))

        categories = ids("categories", self.categories, _("服务类别"))
        served_groups = ids("served_groups", self.groups, _("服务对象"))

        availability: int | None = None
        if text("availability"):
            try:
                availability = parse_text(text("availability"))
            except ValidationError as exc:
                fail("availability", exc.messages[0])

        political: str | None = None
        political_text = _key_text(self._cell(cells, "political_status"))
        if political_text:
            political = POLITICAL_WORDS.get(political_text)
            if political is None:
                fail(
                    "political_status",
                    _(
                        "无法识别的政治面貌“%(v)s”（可填：中共党员、中共预备党员、共青团员、民主党派、群众）"
                    )
                    % {"v": political_text},
                )

        minutes: int | None = None
        hours_cell = self._cell(cells, "historical_hours")
        if _text(hours_cell):
            try:
                minutes = _hours_to_minutes(hours_cell)
            except ValueError as exc:
                fail("historical_hours", str(exc))

        guardian_phone = ""
        guardian_phone_raw = _phone_text(self._cell(cells, "guardian_phone"))
        if guardian_phone_raw:
            try:
                guardian_phone = normalise_mobile(guardian_phone_raw)
            except ValidationError as exc:
                fail("guardian_phone", exc.messages[0])
        consent = False
        consent_text = text("guardian_consent")
        if consent_text:
            answer = _yes_no(consent_text)
            if answer is None:
                fail("guardian_consent", _("监护人同意应填“是”或“否”"))
            consent = bool(answer)
        publish: bool | None = None
        publish_text = text("publish_name")
        if publish_text:
            publish = _yes_no(publish_text)
            if publish is None:
                fail("publish_name", _("同意公开姓名应填“是”或“否”"))

        if errors or citizen is None:
            return None, errors
        notes = _free_text(self._cell(cells, "notes"))
        return (
            _Row(
                row=number,
                name=name,
                citizen=citizen,
                id_hash=id_number_hash(citizen.number),
                phone=phone,
                address=_free_text(self._cell(cells, "address"))[:200],
                org=org,
                org_given=bool(community_text),
                teams=teams,
                skills=skills,
                categories=categories,
                served_groups=served_groups,
                availability=availability,
                political_status=political,
                historical_minutes=minutes,
                notes=notes or None,
                guardian_name=_name_text(self._cell(cells, "guardian_name"))[:50],
                guardian_phone=guardian_phone,
                guardian_consent=consent,
                publish_name=publish,
            ),
            [],
        )

    def _minor_errors(self, row: _Row) -> list[RowError]:
        birth = row.citizen.birth_date
        age = (
            self.today.year
            - birth.year
            - ((self.today.month, self.today.day) < (birth.month, birth.day))
        )
        errors: list[RowError] = []
        if age >= ADULT_AGE:
            return errors
        if not row.guardian_consent:
            self.error(
                errors,
                row.row,
                "guardian_consent",
                _("未满18周岁须经监护人同意后方可注册（“监护人同意”列请填“是”）"),
            )
        if not row.guardian_name:
            self.error(errors, row.row, "guardian_name", _("未满18周岁须填写监护人姓名"))
        return errors

    # one batch

    def flush(self, batch: list[_Row], bad: list[tuple[int, list[RowError]]]) -> None:
        """Classify and (when writing) save a batch of parsed rows. ``bad`` holds the rows
        of the batch that failed parsing, for the preview and the error list."""
        result = self.result
        persons: dict[str, tuple[int, str]] = {}
        volunteers: dict[int, Volunteer] = {}
        if batch:
            persons = {
                h: (pk, name)
                for h, pk, name in Person.objects.filter(
                    id_number_hash__in=[r.id_hash for r in batch]
                ).values_list("id_number_hash", "pk", "name")
            }
        if persons:
            volunteers = {
                v.person_id: v
                for v in Volunteer.objects.filter(
                    person_id__in=[pk for pk, _name in persons.values()]
                ).select_related("org")
            }
        stored = self._stored_lists(list(volunteers.values()))
        new_skills = {s for r in batch for s in (r.skills or ()) if s not in self.skills}
        if new_skills and self.write:
            Skill.objects.bulk_create(
                [Skill(name=s, sort_order=1000) for s in sorted(new_skills)],
                ignore_conflicts=True,
            )
            self.skills.update(Skill.objects.filter(name__in=new_skills).values_list("name", "pk"))

        creations: list[tuple[_Row, Person | None, int | None]] = []  # row, new person, pk
        updates: list[tuple[_Row, Volunteer, set[str], list[Org]]] = []
        statuses: dict[int, str] = {}
        for row in batch:
            errors: list[RowError] = []
            known = persons.get(row.id_hash)
            if known is not None and _name_text(known[1]) != row.name:
                self.error(
                    errors,
                    row.row,
                    "name",
                    _("姓名与该身份证号已登记的居民姓名不一致，请核对"),
                )
            volunteer = volunteers.get(known[0]) if known else None
            if volunteer is not None and not errors:
                changes, joins = self._changes(row, volunteer, stored, errors)
                if not errors:
                    updates.append((row, volunteer, changes, joins))
                    statuses[row.row] = "updated" if changes or joins else "unchanged"
            elif not errors:
                errors.extend(self._minor_errors(row))
                person = None
                if known is None and not errors and self.write:
                    # (parse has validated name, ID and phone; a dry run skips encryption)
                    try:
                        person = person_build(
                            org=row.org,
                            name=row.name,
                            id_number=row.citizen.number,
                            phone=row.phone,
                            address=row.address,
                        )
                    except ValidationError as exc:
                        for key, messages in exc.message_dict.items():
                            column = key if key in COLUMN_BY_KEY else "id_number"
                            for message in messages:
                                self.error(errors, row.row, column, message)
                if not errors:
                    creations.append((row, person, known[0] if known else None))
                    statuses[row.row] = "new"
            if errors:
                bad.append((row.row, errors))
        # preview and counts, in row order
        for _number, errors in bad:
            result.errors.extend(errors)
            result.rejected += 1
        for row in batch:
            status = statuses.get(row.row)
            if status == "new":
                result.imported += 1
            elif status == "updated":
                result.updated += 1
            elif status == "unchanged":
                result.unchanged += 1
        if len(result.preview) < PREVIEW_ROWS:
            self._preview(batch, bad, statuses)
        if self.write:
            self._save_new(creations)
            self._save_updates(updates)

    def _stored_lists(self, volunteers: list[Volunteer]) -> dict[str, dict[int, set]]:
        """The stored list values of existing registrations: four queries per batch."""
        lists: dict[str, dict[int, set]] = {
            "skills": {},
            "categories": {},
            "served_groups": {},
            "teams": {},
        }
        if not volunteers:
            return lists
        ids = [v.pk for v in volunteers]
        for vid, name in Volunteer.skills.through.objects.filter(volunteer_id__in=ids).values_list(
            "volunteer_id", "skill__name"
        ):
            lists["skills"].setdefault(vid, set()).add(name)
        for vid, pk in Volunteer.categories.through.objects.filter(
            volunteer_id__in=ids
        ).values_list("volunteer_id", "servicecategory_id"):
            lists["categories"].setdefault(vid, set()).add(pk)
        for vid, pk in Volunteer.served_groups.through.objects.filter(
            volunteer_id__in=ids
        ).values_list("volunteer_id", "servedgroup_id"):
            lists["served_groups"].setdefault(vid, set()).add(pk)
        for vid, pk in TeamMembership.objects.filter(
            volunteer_id__in=ids, left_on__isnull=True
        ).values_list("volunteer_id", "team_id"):
            lists["teams"].setdefault(vid, set()).add(pk)
        return lists

    def _changes(
        self,
        row: _Row,
        volunteer: Volunteer,
        stored: dict[str, dict[int, set]],
        errors: list[RowError],
    ) -> tuple[set[str], list[Org]]:
        """What the row changes on an existing registration (blank cells change nothing)."""
        if not self.scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org):
            self.error(
                errors,
                row.row,
                "id_number",
                _("该身份证号已在其他组织登记为志愿者，您无权修改其登记信息"),
            )
            return set(), []
        changes: set[str] = set()
        if row.org_given and row.org is not None and row.org.pk != volunteer.org_id:
            changes.add("org")
        for attr in ("political_status", "availability", "historical_minutes", "notes"):
            value = getattr(row, attr)
            if value is not None and value != getattr(volunteer, attr):
                changes.add(attr)
        if row.publish_name is not None and row.publish_name != volunteer.publish_name:
            changes.add("publish_name")
        if row.skills is not None and set(row.skills) != stored["skills"].get(volunteer.pk, set()):
            changes.add("skills")
        for attr in ("categories", "served_groups"):
            value = getattr(row, attr)
            if value is not None and set(value) != stored[attr].get(volunteer.pk, set()):
                changes.add(attr)
        current_teams = stored["teams"].get(volunteer.pk, set())
        joins = [team for team in row.teams if team.pk not in current_teams]
        if joins and volunteer.status != VolunteerStatus.REGISTERED:
            self.error(
                errors,
                row.row,
                "team",
                _("只有已注册的志愿者可以加入服务队（该志愿者当前状态：%(s)s）")
                % {"s": volunteer.get_status_display()},
            )
        return changes, joins

    def _preview(
        self,
        batch: list[_Row],
        bad: list[tuple[int, list[RowError]]],
        statuses: dict[int, str],
    ) -> None:
        labels = {
            "new": _("新增"),
            "updated": _("更新"),
            "unchanged": _("无变化"),
        }
        category_names = {pk: name for name, pk in self.categories.items()}
        group_names = {pk: name for name, pk in self.groups.items()}
        by_row = {row.row: row for row in batch}
        reasons = {
            number: "；".join(f"{e.column}：{e.reason}" for e in errs) for number, errs in bad
        }
        for number in sorted(set(by_row) | set(reasons)):
            if len(self.result.preview) >= PREVIEW_ROWS:
                return
            row = by_row.get(number)
            if number in reasons or row is None:
                self.result.preview.append(
                    {"row": number, "status": _("有错误"), "error": reasons.get(number, "")}
                )
                continue
            self.result.preview.append(
                {
                    "row": number,
                    "status": labels[statuses[number]],
                    "name": row.name,
                    "id_number": row.citizen.masked,
                    "gender": str(Gender(row.citizen.gender).label),
                    "birth_date": row.citizen.birth_date.isoformat(),
                    "phone": mask_mobile(row.phone) if row.phone else "",
                    "org": row.org.name if row.org else "",
                    "teams": "、".join(t.name for t in row.teams),
                    "skills": "、".join(row.skills or ()),
                    "categories": "、".join(category_names[c] for c in row.categories or ()),
                    "served_groups": "、".join(group_names[g] for g in row.served_groups or ()),
                    "availability": describe(row.availability) if row.availability else "",
                    "political_status": (
                        str(PoliticalStatus(row.political_status).label)
                        if row.political_status
                        else ""
                    ),
                    "historical_hours": (
                        round(row.historical_minutes / 60, 1)
                        if row.historical_minutes is not None
                        else ""
                    ),
                    "error": "",
                }
            )

    # writes

    def _save_new(self, creations: list[tuple[_Row, Person | None, int | None]]) -> None:
        if not creations:
            return
        people = [person for _row, person, _pk in creations if person is not None]
        insert_objects(Person, people)
        person_ids = dict(
            Person.objects.filter(id_number_hash__in=[p.id_number_hash for p in people])
            .order_by()
            .values_list("id_number_hash", "pk")
        )
        numbers = issue_numbers(len(creations), self.today)
        volunteers: list[Volunteer] = []
        for (row, person, person_pk), number in zip(creations, numbers, strict=True):
            minutes = row.historical_minutes or 0
            volunteer = Volunteer(
                person_id=person_ids[person.id_number_hash] if person is not None else person_pk,
                number=number,
                org_id=row.org.pk,
                status=VolunteerStatus.REGISTERED,
                source=RegistrationSource.IMPORT,
                political_status=row.political_status or PoliticalStatus.MASSES,
                availability=row.availability or 0,
                publish_name=bool(row.publish_name),
                guardian_name=row.guardian_name,
                historical_minutes=minutes,
                recorded_minutes=minutes,
                approved_by_id=self.actor.pk if self.actor else None,
                approved_at=self.now,
                notes=row.notes or "",
            )
            if row.guardian_phone:
                volunteer.guardian_phone_encrypted = crypto.encrypt(row.guardian_phone)
                volunteer.guardian_phone_masked = mask_mobile(row.guardian_phone)
            if row.guardian_consent:
                volunteer.guardian_consent_at = self.now
            volunteers.append(volunteer)
        insert_objects(Volunteer, volunteers)
        volunteer_ids = dict(
            Volunteer.objects.filter(number__in=numbers).order_by().values_list("number", "pk")
        )
        ids = [volunteer_ids[number] for number in numbers]
        self.touched.extend(ids)
        self._insert_lists(
            [
                (vid, row.skills, row.categories, row.served_groups)
                for (row, _p, _pk), vid in zip(creations, ids, strict=True)
            ]
        )
        actor_id = self.actor.pk if self.actor else None
        reason = str(RegistrationSource.IMPORT.label)
        insert_rows(
            VolunteerStatusChange,
            (
                "volunteer",
                "from_status",
                "to_status",
                "reason",
                "actor",
                "actor_label",
                "created_at",
            ),
            [
                (
                    vid,
                    "",
                    VolunteerStatus.REGISTERED.value,
                    reason,
                    actor_id,
                    self.actor_label,
                    self.now,
                )
                for vid in ids
            ],
        )
        insert_rows(
            TeamMembership,
            ("team", "volunteer", "role", "joined_on", "left_on"),
            [
                (team.pk, vid, TeamRole.MEMBER.value, self.today, None)
                for (row, _p, _pk), vid in zip(creations, ids, strict=True)
                for team in row.teams
            ],
        )

    def _insert_lists(
        self, rows: list[tuple[int, list[str] | None, list[int] | None, list[int] | None]]
    ) -> None:
        insert_rows(
            Volunteer.skills.through,
            ("volunteer", "skill"),
            [(vid, self.skills[name]) for vid, skills, _c, _g in rows for name in skills or ()],
        )
        insert_rows(
            Volunteer.categories.through,
            ("volunteer", "servicecategory"),
            [(vid, pk) for vid, _s, categories, _g in rows for pk in categories or ()],
        )
        insert_rows(
            Volunteer.served_groups.through,
            ("volunteer", "servedgroup"),
            [(vid, pk) for vid, _s, _c, groups in rows for pk in groups or ()],
        )

    def _save_updates(self, updates: list[tuple[_Row, Volunteer, set[str], list[Org]]]) -> None:
        changed = [(row, v, c) for row, v, c, _j in updates if c]
        self.touched.extend(v.pk for _r, v, _c in changed)
        fields: set[str] = set()
        for row, volunteer, changes in changed:
            if "org" in changes:
                volunteer.org = row.org
            for attr in ("political_status", "availability", "notes", "publish_name"):
                if attr in changes:
                    setattr(volunteer, attr, getattr(row, attr))
            if "historical_minutes" in changes:
                delta = row.historical_minutes - volunteer.historical_minutes
                volunteer.historical_minutes += delta
                volunteer.recorded_minutes = max(0, volunteer.recorded_minutes + delta)
                fields.add("recorded_minutes")
            volunteer.updated_at = self.now
            fields |= changes - {"skills", "categories", "served_groups"}
        column_fields = sorted(fields)
        if column_fields:
            Volunteer.objects.bulk_update(
                [v for _r, v, c in changed if c - {"skills", "categories", "served_groups"}],
                [*column_fields, "updated_at"],
            )
        lists: list[tuple[int, list[str] | None, list[int] | None, list[int] | None]] = []
        for attr, through in (
            ("skills", Volunteer.skills.through),
            ("categories", Volunteer.categories.through),
            ("served_groups", Volunteer.served_groups.through),
        ):
            ids = [v.pk for _r, v, c in changed if attr in c]
            if ids:
                through.objects.filter(volunteer_id__in=ids).delete()
        for row, volunteer, changes in changed:
            lists.append(
                (
                    volunteer.pk,
                    row.skills if "skills" in changes else None,
                    row.categories if "categories" in changes else None,
                    row.served_groups if "served_groups" in changes else None,
                )
            )
        if lists:
            self._insert_lists(lists)
        insert_rows(
            TeamMembership,
            ("team", "volunteer", "role", "joined_on", "left_on"),
            [
                (team.pk, v.pk, TeamRole.MEMBER.value, self.today, None)
                for _r, v, _c, teams in updates
                for team in teams
            ],
        )


# --- lean bulk inserts --------------------------------------------------------------------
# ``QuerySet.bulk_create`` spends most of its time compiling each value of each object; for
# tens of thousands of rows that is most of the import. These write the same values (every
# concrete column, auto_now fields filled, values prepared by their field for the database)
# with a few multi-row INSERT statements per table and batch.

_PREPARED_TYPES = frozenset(
    {
        "DateField",
        "DateTimeField",
        "TimeField",
        "DecimalField",
        "DurationField",
        "JSONField",
        "UUIDField",
        "BinaryField",
    }
)


def _needs_prep(field: Any) -> bool:
    return (
        field.get_internal_type() in _PREPARED_TYPES
        or getattr(field, "auto_now", False)
        or getattr(field, "auto_now_add", False)
    )


_MAX_ROWS_PER_STATEMENT = 1000


def _execute_insert(model: type[models.Model], columns: list[str], rows: list[tuple]) -> None:
    """PostgreSQL: ``COPY … FROM STDIN`` (about twice as fast as INSERT for these tables).
    Others: multi-row ``INSERT … VALUES (…), (…)`` within the backend's parameter limit."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    head = f"INSERT INTO {table} ({names}) VALUES "
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    limit = connection.features.max_query_params or 65535
    per_statement = max(1, min(_MAX_ROWS_PER_STATEMENT, limit // len(columns)))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = [value for row in chunk for value in row]
            cursor.execute(head + ", ".join([one] * len(chunk)), params)


def insert_objects(model: type[models.Model], objects: list[models.Model]) -> None:
    """INSERT unsaved ``objects`` (primary keys are left to the database). ``auto_now``
    fields get one timestamp for the whole call."""
    if not objects:
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    cache: dict[tuple[int, Any], Any] = {}
    auto = {
        i
        for i, f in enumerate(fields)
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    }
    prepared = {i for i, f in enumerate(fields) if _needs_prep(f)}
    plan = [(i, f, f.attname, i in prepared, i in auto) for i, f in enumerate(fields)]

    def prep(i: int, field: Any, value: Any) -> Any:
        key = (i, value)
        if key not in cache:
            cache[key] = field.get_db_prep_save(value, connection)
        return cache[key]

    rows = []
    for obj in objects:
        values = []
        for i, model_field, name, needs_prep, is_auto in plan:
            if is_auto:
                setattr(obj, name, now)
            value = getattr(obj, name)
            values.append(prep(i, model_field, value) if needs_prep else value)
        rows.append(tuple(values))
    _execute_insert(model, [f.column for f in fields], rows)


def insert_rows(
    model: type[models.Model], field_names: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """INSERT plain value tuples (in ``field_names`` order) into ``model``'s table."""
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in field_names]
    prepared = [i for i, f in enumerate(fields) if _needs_prep(f)]
    if prepared:
        cache: dict[tuple[int, Any], Any] = {}

        def prep(i: int, value: Any) -> Any:
            key = (i, value)
            if key not in cache:
                cache[key] = fields[i].get_db_prep_save(value, connection)
            return cache[key]

        rows = [
            tuple(prep(i, v) if i in prepared else v for i, v in enumerate(row)) for row in rows
        ]
    _execute_insert(model, [f.column for f in fields], rows)


# --- the import ---------------------------------------------------------------------------


def check_import_org(*, scope: Scope, org: Org) -> None:
    """Raise PermissionDenied / ValidationError when ``org`` cannot take an import."""
    if not scope.can(Perm.VOLUNTEER_MANAGE, org):
        raise PermissionDenied(_("您没有管理该组织志愿者的权限"))
    if org.kind not in IMPORT_KINDS or not org.is_active:
        raise ValidationError(
            _("只能导入到市、区、街道、社区或网格（“%(org)s”是%(kind)s）")
            % {"org": org.name, "kind": org.get_kind_display()}
        )


def volunteer_import(
    *,
    actor: Any,
    scope: Scope,
    org: Org,
    source: str | Path | IO[bytes],
    file_name: str = "",
    strict: bool = False,
    dry_run: bool = False,
    today: dt.date | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import a register into ``org`` (see the module docstring). Raises ImportFileError
    for a file that cannot be read as a register, PermissionDenied when ``scope`` may not
    manage volunteers of ``org``."""
    check_import_org(scope=scope, org=org)
    today = today or timezone.localdate()
    if not file_name:
        file_name = Path(source).name if isinstance(source, str | Path) else ""
    result = ImportResult(file_name=file_name, dry_run=dry_run, strict=strict)
    with open_register(source) as register:
        result.sheet, result.header_row = register.sheet, register.header_row
        with transaction.atomic():
            importer = _Importer(
                actor=actor,
                scope=scope,
                org=org,
                register=register,
                result=result,
                today=today,
                write=not dry_run,
            )
            batch: list[_Row] = []
            bad: list[tuple[int, list[RowError]]] = []
            pending = 0
            for number, cells in register.rows():
                result.rows += 1
                pending += 1
                row, errors = importer.parse(number, cells)
                if row is None:
                    bad.append((number, errors))
                else:
                    batch.append(row)
                if pending >= batch_size:
                    # strict: stop writing after the first bad row, keep validating
                    importer.write = not dry_run and not (strict and (result.rejected or bad))
                    importer.flush(batch, bad)
                    if progress is not None:
                        progress(pending)
                    batch, bad, pending = [], [], 0
            importer.write = not dry_run and not (strict and (result.rejected or bad))
            importer.flush(batch, bad)
            if progress is not None and pending:
                progress(pending)
            if result.rows == 0:
                raise ImportFileError(
                    _("第%(row)s行是表头，但表头下面没有任何数据行") % {"row": register.header_row}
                )
            result.errors.sort(key=lambda e: e.row)
            if dry_run:
                return result
            if strict and result.rejected:
                transaction.set_rollback(True)
                result.imported = result.updated = result.unchanged = 0
                return result
            result.committed = True
            from huzhu.volunteers.services import match_profiles_refresh

            match_profiles_refresh(volunteer_ids=importer.touched)
            log_action(
                actor,
                "volunteer.import",
                org,
                {
                    "file": file_name,
                    "sheet": result.sheet,
                    "rows": result.rows,
                    "imported": result.imported,
                    "updated": result.updated,
                    "unchanged": result.unchanged,
                    "rejected": result.rejected,
                    "strict": strict,
                },
            )
    return result


# --- the error report ---------------------------------------------------------------------

REASON_HEADER = "错误原因"


def write_error_report(
    *,
    source: str | Path | IO[bytes],
    result: ImportResult,
    out: str | Path | IO[bytes],
    watermark: str = "",
) -> int:
    """Write the bad rows of ``source`` — the original header and cells, plus a 错误原因
    column — to ``out`` (.xlsx), so they can be corrected and imported again on their own.
    Streams both files; returns the number of rows written."""
    from openpyxl import Workbook

    reasons = result.reasons_by_row()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("错误行"))
    written = 0
    with open_register(source) as register:
        # the original columns, without the reasons of an earlier report being re-imported
        keep = [i for i, h in enumerate(register.headers) if normalise_header(h) != REASON_HEADER]
        if watermark:
            sheet.append([watermark])
        sheet.append([*(register.headers[i] for i in keep), REASON_HEADER])
        for number, cells in register.rows():
            reason = reasons.get(number)
            if reason is None:
                continue
            sheet.append([*(cells[i] if i < len(cells) else None for i in keep), reason])
            written += 1
    workbook.save(out)
    return written
