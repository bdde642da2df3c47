"""Plain bulk writes for the hot paths (a shift's confirmation, the demo generator): rows of
already-valid values go in without building model instances — COPY on PostgreSQL, multi-row
INSERT elsewhere. Validation stays with the caller (a service or a generator)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: bool = False,
) -> list[int]:
    """Plain multi-row ``INSERT`` of already-valid values (``columns`` are attnames);
    with ``returning``, the new primary keys in row order (as ``bulk_create`` relies on)."""
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    fields = [model._meta.get_field(c) for c in columns]
    adapters = []
    for f in fields:
        if isinstance(f, models.DateTimeField):
            adapters.append(connection.ops.adapt_datetimefield_value)
        elif isinstance(f, models.DateField):
            adapters.append(connection.ops.adapt_datefield_value)
        else:
            adapters.append(None)
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ".format(
        quote(model._meta.db_table), ", ".join(quote(f.column) for f in fields)
    )
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    tail = f" RETURNING {quote(model._meta.pk.column)}" if returning else ""
    per_statement = max(1, 900 // len(fields))  # under SQLite's variable limit
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params: list[Any] = []
            for row in chunk:
                params.extend(
                    a(v) if a is not None and v is not None else v
                    for a, v in zip(adapters, row, strict=True)
                )
            cursor.execute(sql + ", ".join([one] * len(chunk)) + tail, params)
            if returning:
                ids.extend(r[0] for r in cursor.fetchall())
    return ids


def _new_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` fresh primary keys from the table's sequence (PostgreSQL)."""
    connection = connections[router.db_for_write(model)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def write_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: bool = False,
) -> list[int]:
    """Write plain rows (``columns`` are attnames): COPY on PostgreSQL, multi-row INSERT
    elsewhere; with ``returning``, the new primary keys in row order."""
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return insert_rows(model, columns, rows, returning=returning)
    ids = _new_ids(model, len(rows)) if returning else []
    meta = model._meta
    names = ([meta.pk.column] if returning else []) + [meta.get_field(c).column for c in columns]
    quote = connection.ops.quote_name
    sql = f"COPY {quote(meta.db_table)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    started = time.monotonic()
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        if returning:
            for pk, row in zip(ids, rows, strict=True):
                copy.write_row((pk, *row))
        else:
            for row in rows:
                copy.write_row(row)
    if connection.queries_logged:  # COPY bypasses Django's cursor wrapper: count it anyway
        elapsed = time.monotonic() - started
        connection.queries_log.append(
            {"sql": f"{sql} -- {len(rows)} rows", "time": f"{elapsed:.3f}"}
        )
    return ids
