"""Register import benchmark (DESIGN.md §6): ≥ 2,000 rows/s for a 100,000-row register, with
flat memory.

    .venv/bin/python -m benchmarks.import_volunteers [--quick] [--rows N] [--database-url URL]

It builds a database of its own (a temporary SQLite file, or a fresh PostgreSQL database
``huzhu_bench_import_volunteers`` on the server of ``--database-url``) and migrates it, sets up
a street with communities, grids and teams, and writes two believable registers with the demo
generator's names, ID numbers and phones (title rows, mixed date forms, minors with guardians,
about 1 % of rows with mistakes): a small one (N/10 rows) and a large one (N rows, default
100,000; ``--quick``: 2,000).

Each import runs as ``huzhu import-volunteers`` in a fresh child process, so its peak memory
(``VmHWM``, reset just before the import) is its own: flat memory means the large import's
growth over the process's resident memory before it is about that of the small one, not ten
times it. The child also re-imports the small register
(every row unchanged) and times ``person_build`` (validation, encryption, pinyin) alone. The
reference measured in the same run is a raw openpyxl read of the same large file.
The last line is ``RESULT import_volunteers rows_per_s=<value> budget=2000 ok|short``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from benchmarks import common

TOPIC = "import_volunteers"
BUDGET = 2000  # rows per second
# Flat memory: the import must not hold the rows. It keeps ~110 bytes a row for the duplicate
# check (by design), and openpyxl keeps the file's shared-string table (~200 bytes a row for a
# register, every name, ID and phone being distinct); holding the parsed rows would add about
# 1.1 KB a row more (measured with tracemalloc). So the large import may grow at most
# FLAT_SLACK_MB + FLAT_BYTES_PER_ROW × (the extra rows) more than the small one.
FLAT_SLACK_MB = 8.0
FLAT_BYTES_PER_ROW = 1024
TODAY = dt.date(2026, 11, 29)
STREET = "基准测试街道"
WORKER = "bench-worker"
COMMUNITIES = ("和平社区", "幸福社区", "阳光社区", "翠园社区", "明湖社区")
GRIDS = ("第一网格", "第二网格")
TEAMS = ("助老服务队", "应急服务队", "文明劝导队")
AREAS = ("370102", "370103", "370104", "370112", "370181", "410102", "130102", "340104")
HEADER = (
    "序号", "姓名", "性别", "公民身份号码", "出生日期", "手机号码", "所属社区", "服务队",
    "技能特长", "服务类别", "服务对象", "可服务时间", "政治面貌", "历史服务时长（小时）",
    "备注", "监护人", "监护人同意",
)  # fmt: skip
SKILLS = (
    "医疗",
    "护理",
    "法律",
    "心理",
    "维修",
    "驾驶",
    "教育",
    "文艺",
    "计算机",
    "剪纸",
    "广场舞",
)
CATEGORIES = ("社区服务", "卫生健康", "法律服务", "环境保护", "文化艺术", "平安综治", "应急救援")
SERVED = ("老年人", "儿童", "残障人士", "困难家庭", "城镇居民", "社会公众")
AVAILABILITY = ("周六上午、周日全天", "工作日晚上", "周末", "每天下午", "随时", "周三下午")
POLITICAL = ("群众", "群众", "群众", "中共党员", "共青团员", "预备党员", "民主党派")
CHILD_MARK = "CHILD-JSON "


# --- the registers (pure: no Django) ------------------------------------------------------


def _rows(rng: random.Random, count: int, seen: set[str]):
    from huzhu.demo import generator

    for n in range(1, count + 1):
        minor = rng.random() < 0.02
        age = (
            rng.randint(14, 17) if minor else rng.choice((rng.randint(18, 59), rng.randint(60, 80)))
        )
        gender = rng.choice("MF")
        birth = generator.birth_date_for_age(rng, age, TODAY)
        while True:
            id_number = generator.id_number(rng, rng.choice(AREAS), birth, gender)
            if id_number not in seen:
                seen.add(id_number)
                break
        phone = generator.mobile(rng)
        community = rng.choice(COMMUNITIES)
        place = community + rng.choice(GRIDS) if rng.random() < 0.5 else community
        category = "、".join(rng.sample(CATEGORIES, rng.randint(1, 2)))
        # about 1 % of rows carry a mistake a worker makes
        mistake = rng.random()
        if mistake < 0.004:
            id_number = id_number[:-1] + ("0" if id_number[-1] != "0" else "1")
        elif mistake < 0.007:
            phone = phone[:10]
        elif mistake < 0.01:
            category = "广场舞比赛"
        date_form = n % 4
        birth_cell: object = (
            birth.isoformat(),
            f"{birth.year}/{birth.month}/{birth.day}",
            f"{birth.year}年{birth.month}月{birth.day}日",
            dt.datetime(birth.year, birth.month, birth.day),
        )[date_form]
        yield [
            n,
            generator.full_name(rng, gender, birth.year),
            "男" if gender == "M" else "女",
            id_number,
            birth_cell,
            phone,
            place,
            rng.choice(TEAMS) if rng.random() < 0.6 else None,
            "、".join(rng.sample(SKILLS, rng.randint(0, 3))) or None,
            category,
            "、".join(rng.sample(SERVED, rng.randint(1, 2))),
            rng.choice(AVAILABILITY),
            rng.choice(POLITICAL),
            round(rng.random() * 200, 1) if rng.random() < 0.4 else None,
            "行动不便，电话联系" if rng.random() < 0.05 else None,
            generator.full_name(rng, "F", 1985) if minor else None,
            "是" if minor else None,
        ]


def write_register(path: Path, rows: int, rng: random.Random, seen: set[str]) -> float:
    """Write a register of ``rows`` rows (streamed, write-only); returns seconds taken."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    started = time.perf_counter()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("志愿者名册")
    sheet.append([f"{STREET}志愿者登记名册"])
    sheet.append(["填报单位：街道志愿服务站", None, None, "填报日期：2026年11月"])
    sheet.append(list(HEADER))
    for values in _rows(rng, rows, seen):
        cell = WriteOnlyCell(sheet, value=values[3])
        cell.number_format = "@"  # the ID column is text, as a careful worker sets it
        values[3] = cell
        sheet.append(values)
    workbook.save(path)
    as_excel_saves_it(path, rows + 3, len(HEADER))
    return time.perf_counter() - started


_INLINE = re.compile(
    r'<c r="([A-Z]+[0-9]+)"((?: s="[0-9]+")?) t="inlineStr"><is><t( xml:space="preserve")?>'
    r"(.*?)</t></is></c>",
    re.S,
)


def as_excel_saves_it(path: Path, rows: int, columns: int) -> None:
    """openpyxl's write-only mode writes every string inline and no sheet size; Excel and WPS
    write a shared-string table and a ``<dimension>``, which is what real registers carry
    (and what readers are fastest on). Rewrite the file that way."""
    import zipfile

    from openpyxl.utils import get_column_letter

    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    strings: dict[tuple[str, str], int] = {}
    total = 0

    def shared(match: re.Match[str]) -> str:
        nonlocal total
        total += 1
        index = strings.setdefault((match.group(4), match.group(3) or ""), len(strings))
        return f'<c r="{match.group(1)}"{match.group(2)} t="s"><v>{index}</v></c>'

    sheet = _INLINE.sub(shared, parts["xl/worksheets/sheet1.xml"].decode())
    size = f'<dimension ref="A1:{get_column_letter(columns)}{rows}" />'
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(
        "<sheetViews>", size + "<sheetViews>", 1
    ).encode()
    items = "".join(f"<si><t{space}>{text}</t></si>" for (text, space) in strings)
    parts["xl/sharedStrings.xml"] = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'count="{total}" uniqueCount="{len(strings)}">{items}</sst>'
    ).encode()
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/sharedStrings" Target="sharedStrings.xml" Id="rIdStrings" />'
        b"</Relationships>",
    )
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" /></Types>',
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


def raw_read(path: Path) -> tuple[int, float]:
    """The reference: read every row of the register with openpyxl and nothing else."""
    from openpyxl import load_workbook

    started = time.perf_counter()
    workbook = load_workbook(path, read_only=True, data_only=True)
    rows = 0
    for _row in workbook.worksheets[0].iter_rows(values_only=True):
        rows += 1
    workbook.close()
    return rows, time.perf_counter() - started


# --- the database -------------------------------------------------------------------------


def _pg(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


def create_database(database_url: str | None, workdir: Path) -> tuple[str, Callable[[], None]]:
    """(url, drop) for the benchmark's own database."""
    if not database_url:
        url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        return url, lambda: None
    if not database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(f"unsupported --database-url (PostgreSQL only): {database_url}")
    name = f"huzhu_bench_{TOPIC}"
    parts = urlsplit(database_url)
    admin_url = urlunsplit(parts._replace(path=f"/{parts.path.lstrip('/') or 'postgres'}"))
    _pg(admin_url, f'DROP DATABASE IF EXISTS "{name}"')
    _pg(admin_url, f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    url = urlunsplit(parts._replace(path=f"/{name}"))
    return url, lambda: _pg(admin_url, f'DROP DATABASE IF EXISTS "{name}"')


def run_child(task: str, url: str, *extra: str) -> dict:
    env = dict(os.environ)
    env["DATABASE_URL"] = url
    env.pop("HUZHU_DATABASE_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = "huzhu.settings"
    env.setdefault("HUZHU_LOG_LEVEL", "WARNING")
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{TOPIC}", "--child", task, *extra],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith(CHILD_MARK):
            return json.loads(line[len(CHILD_MARK) :])
    sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
    raise SystemExit(f"benchmark child {task!r} failed (exit {completed.returncode})")


# --- children (Django) --------------------------------------------------------------------


def _status_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak() -> None:
    """Reset the peak-RSS mark (Linux ≥ 4.0), so the peak measured is the import's own."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        pass


def _rss_mb() -> float:
    """Resident memory now (VmRSS)."""
    return _status_mb("VmRSS") or _peak_mb()


def _peak_mb() -> float:
    """Peak resident memory of this process image (VmHWM; ``ru_maxrss`` would also count the
    parent's memory at fork time)."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_setup() -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from huzhu.orgs.models import Org, OrgKind, RoleGrant
    from huzhu.orgs.roles import Role

    def org(kind: str, name: str, parent: Org | None) -> Org:
        made = Org.objects.create(
            parent=parent,
            kind=kind,
            name=name,
            path=f"/new-{name}-{time.time_ns()}/",
            depth=(parent.depth + 1) if parent else 0,
        )
        made.path = f"{parent.path if parent else '/'}{made.pk}/"
        made.save(update_fields=["path"])
        return made

    city = org(OrgKind.CITY, "基准测试市", None)
    district = org(OrgKind.DISTRICT, "基准测试区", city)
    street = org(OrgKind.STREET, STREET, district)
    for name in COMMUNITIES:
        community = org(OrgKind.COMMUNITY, name, street)
        for grid in GRIDS:
            org(OrgKind.GRID, name + grid, community)
        corps = org(OrgKind.CORPS, f"{name}志愿者总队", community)
        for team in TEAMS:
            org(OrgKind.TEAM, team, corps)
    user = get_user_model().objects.create_user(WORKER, password="bench")
    RoleGrant.objects.create(user=user, org=street, role=Role.WORKER)
    return {"street": street.pk}


def child_import(path: str, reimport: bool, build_sample: int) -> dict:
    import django

    django.setup()
    import io

    import openpyxl  # noqa: F401 — loaded before the baseline, like the rest of the code
    from django.core.management import call_command

    import huzhu.volunteers.importer  # noqa: F401
    from huzhu.orgs.models import Org

    street = Org.objects.get(name=STREET)
    _reset_peak()
    baseline = _rss_mb()
    out = io.StringIO()
    started = time.perf_counter()
    call_command("import_volunteers", path, "--org", str(street.pk), "--user", WORKER, stdout=out)
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    lines = out.getvalue().rstrip("\n").split("\n")
    result = {
        "summary": lines[-1],
        "seconds": seconds,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "errors_listed": sum(1 for line in lines if line.startswith("第")),
    }
    if reimport:
        out = io.StringIO()
        started = time.perf_counter()
        call_command(
            "import_volunteers", path, "--org", str(street.pk), "--user", WORKER, stdout=out
        )
        result["reimport_seconds"] = time.perf_counter() - started
        result["reimport_summary"] = out.getvalue().rstrip("\n").split("\n")[-2]
    if build_sample:
        result.update(_person_build_cost(street, build_sample))
    return result


def child_strings(path: str) -> dict:
    """Memory openpyxl holds for an open read-only workbook: its shared-string table (every
    distinct text of the file), which grows with the file whatever the importer does."""
    import tracemalloc

    from openpyxl import load_workbook

    tracemalloc.start()
    workbook = load_workbook(path, read_only=True, data_only=True)
    current, _peak = tracemalloc.get_traced_memory()
    workbook.close()
    tracemalloc.stop()
    return {"strings_mb": current / 1e6}


def _person_build_cost(street: object, count: int) -> dict:
    """Time person_build (validation, Fernet encryption, keyed hashes, pinyin) alone."""
    from huzhu.demo import generator
    from huzhu.people.services import name_pinyin, person_build

    rng = random.Random(7)
    people = []
    for _ in range(count):
        birth = generator.birth_date_for_age(rng, rng.randint(18, 80), TODAY)
        gender = rng.choice("MF")
        people.append(
            (
                generator.full_name(rng, gender, birth.year),
                generator.id_number(rng, "370102", birth, gender),
                generator.mobile(rng),
            )
        )
    started = time.perf_counter()
    for name, id_number, phone in people:
        person_build(org=street, name=name, id_number=id_number, phone=phone)
    build = time.perf_counter() - started
    started = time.perf_counter()
    for name, _id, _phone in people:
        name_pinyin(name)
    pinyin = time.perf_counter() - started
    return {
        "person_build_us": build / count * 1e6,
        "pinyin_us": pinyin / count * 1e6,
    }


# --- the run ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> str:
    parser = common.parser(TOPIC, "Excel register import: rows/s and memory for 10k vs 100k")
    parser.add_argument("--rows", type=int, default=None, help="rows of the large register")
    parser.add_argument("--child", default="", help=argparse_suppress())
    parser.add_argument("--file", default="", help=argparse_suppress())
    parser.add_argument("--reimport", action="store_true", help=argparse_suppress())
    parser.add_argument("--build-sample", type=int, default=0, help=argparse_suppress())
    args = parser.parse_args(argv)
    if args.child:
        return _child_main(args)

    big = args.rows or (2000 if args.quick else 100_000)
    small = max(big // 10, 50)
    workdir = Path(tempfile.mkdtemp(prefix="huzhu-bench-import-"))
    url, drop = create_database(args.database_url, workdir)
    vendor = "postgresql" if url.startswith("postgres") else "sqlite"
    try:
        common.say(f"# database: {vendor}; registers of {small:,} and {big:,} rows")
        with common.Stopwatch() as sw:
            run_child("setup", url)
        common.say(f"# migrated and set up in {sw.seconds:.1f} s")
        rng = random.Random(20261129)
        seen: set[str] = set()
        small_path, big_path = workdir / "small.xlsx", workdir / "large.xlsx"
        gen_small = write_register(small_path, small, rng, seen)
        gen_big = write_register(big_path, big, rng, seen)
        del seen
        common.say(
            f"# generated registers in {gen_small + gen_big:.1f} s "
            f"({big_path.stat().st_size / 1e6:.1f} MB for {big:,} rows)"
        )
        read_rows, read_seconds = raw_read(big_path)
        read_rate = read_rows / read_seconds
        common.say(f"reference: raw openpyxl read of the large file: {read_rate:,.0f} rows/s")

        first = run_child(
            "import",
            url,
            "--file",
            str(small_path),
            "--reimport",
            "--build-sample",
            str(min(2000, small)),
        )
        second = run_child("import", url, "--file", str(big_path))
        small_rate = small / first["seconds"]
        big_rate = big / second["seconds"]
        reimport_rate = small / first["reimport_seconds"]
        common.say(f"import {small:>7,} rows: {first['seconds']:.1f} s, {small_rate:,.0f} rows/s"
                   f" — {first['summary']}")  # fmt: skip
        common.say(f"import {big:>7,} rows: {second['seconds']:.1f} s, {big_rate:,.0f} rows/s"
                   f" — {second['summary']}")  # fmt: skip
        common.say(f"re-import {small:,} rows (all unchanged): {reimport_rate:,.0f} rows/s"
                   f" — {first['reimport_summary']}")  # fmt: skip
        common.say(
            f"ratio: import / raw openpyxl read = {big_rate / read_rate:.2f} "
            f"(openpyxl reading is {1e6 / read_rate:.0f} µs of the {1e6 / big_rate:.0f} µs per row)"
        )
        build_us = first["person_build_us"]
        common.say(
            f"person_build (validation, encryption, hashes, pinyin): {build_us:.0f} µs per row "
            f"= {build_us / (1e6 / big_rate):.0%} of the import's time per row "
            f"(pinyin alone {first['pinyin_us']:.0f} µs)"
        )
        growth_small = first["peak_mb"] - first["baseline_mb"]
        growth_big = second["peak_mb"] - second["baseline_mb"]
        common.say(
            f"memory (peak RSS of the import above the process's RSS before it): "
            f"{small:,} rows +{growth_small:.1f} MB, "
            f"{big:,} rows +{growth_big:.1f} MB (baselines {first['baseline_mb']:.0f} / "
            f"{second['baseline_mb']:.0f} MB; peaks {first['peak_mb']:.0f} / "
            f"{second['peak_mb']:.0f} MB)"
        )
        strings_small = run_child("strings", url, "--file", str(small_path))["strings_mb"]
        strings_big = run_child("strings", url, "--file", str(big_path))["strings_mb"]
        common.say(
            f"openpyxl's shared-string table alone (open workbook, tracemalloc): "
            f"{strings_small:.1f} MB / {strings_big:.1f} MB"
        )
        extra_rows = big - small
        allowed = FLAT_SLACK_MB + FLAT_BYTES_PER_ROW * extra_rows / 2**20
        per_row = (growth_big - growth_small) * 2**20 / extra_rows
        flat = growth_big - growth_small <= allowed
        common.say(
            f"memory is {'flat' if flat else 'NOT flat'}: {big // small}× the rows, "
            f"+{growth_big - growth_small:.1f} MB = {per_row:.0f} bytes per extra row "
            f"(allowed +{allowed:.0f} MB; holding the parsed rows would add ~1,100 bytes a row)"
        )
        return common.result(
            TOPIC, "rows_per_s", float(round(big_rate, 1)), BUDGET, ok=big_rate >= BUDGET and flat
        )
    finally:
        try:
            drop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS


def _child_main(args: object) -> str:
    if args.child == "setup":
        data = child_setup()
    elif args.child == "strings":
        data = child_strings(args.file)
    elif args.child == "import":
        data = child_import(args.file, args.reimport, args.build_sample)
    else:
        raise SystemExit(f"unknown child task {args.child!r}")
    line = CHILD_MARK + json.dumps(data)
    print(line, flush=True)
    return line


if __name__ == "__main__":
    main()
