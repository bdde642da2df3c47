"""``huzhu rotate-keys``: re-encrypt every stored personal value under the newest key.

Rotation (DESIGN.md §3): put a new key first in ``HUZHU_FERNET_KEYS`` (keep the old ones after
it), deploy, run ``huzhu rotate-keys``, check with ``huzhu rotate-keys --check`` that nothing is
left, then drop the old keys. Running it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from huzhu.common import crypto
from huzhu.common.audit import log_action

# Every encrypted column: (model label, field names). Apps that add one append here.
ENCRYPTED_FIELDS: list[tuple[str, tuple[str, ...]]] = [
    ("people.Person", ("id_number_encrypted", "phone_encrypted")),
]


class Command(BaseCommand):
    help = "Re-encrypt personal data under the newest key of HUZHU_FERNET_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="only count values not yet under the newest key; change nothing",
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, check: bool, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        totals = {"checked": 0, "stale": 0, "rotated": 0, "broken": 0}
        broken: list[str] = []
        for label, fields in ENCRYPTED_FIELDS:
            model = apps.get_model(label)
            for field in fields:
                counts = self._one_field(model, field, check, batch_size, broken)
                for key, value in counts.items():
                    totals[key] += value
                verb = "to rotate" if check else "rotated"
                self.stdout.write(
                    f"{label}.{field}: {counts['checked']} values, "
                    f"{counts['stale' if check else 'rotated']} {verb}, "
                    f"{counts['broken']} undecryptable"
                )
        if check:
            self.stdout.write(
                f"{totals['stale']} of {totals['checked']} values are not under the newest key"
            )
        else:
            self.stdout.write(f"rotated {totals['rotated']} of {totals['checked']} values")
            if totals["rotated"]:
                log_action(
                    None, "crypto.rotate_keys", None, {k: totals[k] for k in ("checked", "rotated")}
                )
        if broken:
            raise CommandError(
                f"{len(broken)} values cannot be decrypted with any configured key "
                f"(first: {', '.join(broken[:10])}); restore the key that encrypted them"
            )

    def _one_field(
        self, model: Any, field: str, check: bool, batch_size: int, broken: list[str]
    ) -> dict[str, int]:
        """Walk the table in primary-key order, one transaction per batch. Each batch is
        re-read under a row lock, so an edit made meanwhile is never overwritten by a stale
        value (a plain iterator over the whole table could not promise that)."""
        counts = {"checked": 0, "stale": 0, "rotated": 0, "broken": 0}
        last_pk: Any = None
        base = model._default_manager.exclude(**{field: ""}).order_by("pk").only("pk", field)
        while True:
            with transaction.atomic():
                qs = base if last_pk is None else base.filter(pk__gt=last_pk)
                if not check:
                    qs = qs.select_for_update()
                batch = list(qs[:batch_size])
                if not batch:
                    break
                last_pk = batch[-1].pk
                changed = []
                for row in batch:
                    token = getattr(row, field)
                    counts["checked"] += 1
                    if crypto.is_current(token):
                        continue
                    try:
                        rotated = crypto.rotate(token)
                    except Exception:  # InvalidToken: no configured key opens it
                        counts["broken"] += 1
                        broken.append(f"{model._meta.label}#{row.pk}.{field}")
                        continue
                    counts["stale"] += 1
                    if not check:
                        setattr(row, field, rotated)
                        changed.append(row)
                if changed:
                    model._default_manager.bulk_update(changed, [field])
                    counts["rotated"] += len(changed)
        return counts
