"""Property test of the ledger (Hypothesis): whatever sequence of transfers, batches,
reversals and replays is tried, every stored balance equals the sum of its entries, the
global sum is zero, a transfer is refused exactly when it would break a rule (an inactive
account, a balance below its credit limit), and a refused one changes nothing.

Six accounts: the community's issuance account (no limit), its pool and four person
accounts with credit limits drawn per example (one of them sometimes inactive). Each example
runs in a savepoint that is rolled back, so examples never see each other's rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from huzhu.people.models import Person
from huzhu.timebank import ledger
from huzhu.timebank.ledger import BatchItem, LedgerRefusal, Leg
from huzhu.timebank.models import Account, AccountKind, Entry, Transfer
from tests.factories import make_person

pytestmark = pytest.mark.django_db

ISSUANCE, POOL = 0, 1
SIZE = 6  # issuance, pool, four persons
MINUTES = st.integers(min_value=1, max_value=240)
INDEX = st.integers(min_value=0, max_value=SIZE - 1)


def _pair() -> st.SearchStrategy[tuple[int, int]]:
    """(source, target), two different accounts; the issuance account is the source half
    the time, so that the persons have credits to move."""
    source = st.one_of(st.just(ISSUANCE), INDEX)
    offset = st.integers(min_value=1, max_value=SIZE - 1)
    return st.tuples(source, offset).map(lambda p: (p[0], (p[0] + p[1]) % SIZE))


OPERATIONS = st.one_of(
    st.tuples(st.just("post"), _pair(), MINUTES),
    st.tuples(st.just("split"), INDEX, st.tuples(_pair(), MINUTES, MINUTES)),
    st.tuples(
        st.just("batch"),
        st.lists(st.tuples(_pair(), MINUTES), min_size=1, max_size=6),
        st.none(),
    ),
    st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=20), st.none()),
    st.tuples(st.just("replay"), st.integers(min_value=0, max_value=20), st.none()),
)
LIMITS = st.lists(st.sampled_from([0, 0, 30, 60, 120]), min_size=4, max_size=4)


@dataclass
class Model:
    """What the balances must be, computed apart from the ledger."""

    accounts: list[Account]
    balance: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    posted: list[tuple[Transfer, dict[int, int]]] = field(default_factory=list)
    reversed: set[int] = field(default_factory=set)

    def violations(self, changes: dict[int, int]) -> set[str]:
        """The rules a transfer with these net changes (account index → minutes) breaks."""
        broken = set()
        for index, change in changes.items():
            account = self.accounts[index]
            if not account.is_active:
                broken.add("account.inactive")
            elif index != ISSUANCE and self.balance[index] + change < -account.credit_limit:
                broken.add("balance.insufficient")
        return broken

    def apply(self, changes: dict[int, int]) -> None:
        for index, change in changes.items():
            self.balance[index] += change


def _state() -> tuple[list[tuple[int, int]], int, int]:
    balances = list(Account.objects.order_by("pk").values_list("pk", "balance"))
    return balances, Transfer.objects.count(), Entry.objects.count()


def _accounts(city, people: list[Person], limits: list[int], inactive: int | None) -> list:
    org = city.community_a
    accounts = [
        Account.objects.create(kind=AccountKind.ISSUANCE, org=org),
        Account.objects.create(kind=AccountKind.POOL, org=org),
    ]
    for n, (person, limit) in enumerate(zip(people, limits, strict=True)):
        accounts.append(
            Account.objects.create(
                kind=AccountKind.PERSON,
                person=person,
                org=org,
                credit_limit=limit,
                is_active=n != inactive,
            )
        )
    return accounts


def _net(pairs: list[tuple[tuple[int, int], int]]) -> dict[int, int]:
    changes: dict[int, int] = defaultdict(int)
    for (source, target), minutes in pairs:
        changes[source] -= minutes
        changes[target] += minutes
    return dict(changes)


def _attempt(model: Model, operation: tuple, step: int) -> None:
    """Run one operation against the ledger and the model; check refusals change nothing."""
    kind, first, second = operation
    ids = [a.pk for a in model.accounts]
    before = _state()
    if kind == "replay":
        if not model.posted:
            return
        transfer, changes = model.posted[first % len(model.posted)]
        again = ledger.post(
            kind="family",
            legs=[Leg(ids[index], amount) for index, amount in changes.items() if amount],
            idempotency_key=transfer.idempotency_key,
        )
        assert again.pk == transfer.pk
        # the same key for different legs is refused, not answered with the first transfer
        with pytest.raises(LedgerRefusal) as refused:
            ledger.post(
                kind="family",
                legs=[Leg(ids[ISSUANCE], -1), Leg(ids[POOL], 1)]
                if changes != {ISSUANCE: -1, POOL: 1}
                else [Leg(ids[ISSUANCE], -2), Leg(ids[POOL], 2)],
                idempotency_key=transfer.idempotency_key,
            )
        assert refused.value.rule == "idempotency.mismatch"
        assert _state() == before  # a replay moves nothing
        return
    if kind == "reverse":
        if not model.posted:
            return
        transfer, changes = model.posted[first % len(model.posted)]
        mirror = {index: -change for index, change in changes.items()}
        if transfer.kind == "reverse":
            expected = {"reverse.reverse"}
        elif transfer.pk in model.reversed:
            expected = {"reverse.twice"}
        else:
            expected = model.violations(mirror)
        call = lambda: ledger.reverse(transfer=transfer, actor=None)  # noqa: E731
        changes = mirror
    elif kind == "post":
        (source, target), minutes = first, second
        changes = _net([((source, target), minutes)])
        expected = model.violations(changes)
        call = lambda: ledger.post(  # noqa: E731
            kind="family", legs=[Leg(ids[source], -minutes), Leg(ids[target], minutes)]
        )
    elif kind == "split":
        source = first
        (a, b), m1, m2 = second
        legs = [(source, -(m1 + m2)), (a, m1), (b, m2)]
        changes = defaultdict(int)
        for index, amount in legs:
            changes[index] += amount
        changes = dict(changes)
        expected = model.violations(changes)
        call = lambda: ledger.post(  # noqa: E731
            kind="donate", legs=[Leg(ids[i], amount) for i, amount in legs]
        )
    else:  # batch
        changes = _net(first)
        expected = model.violations(changes)
        items = [
            BatchItem(ids[s], ids[t], minutes, f"p:{step}:{n}")
            for n, ((s, t), minutes) in enumerate(first)
        ]

        def call() -> int:
            return ledger.post_batch(kind="earn", items=items)

    try:
        result = call()
    except LedgerRefusal as refusal:
        assert expected, f"{kind} refused ({refusal.rule}) though it breaks no rule"
        assert refusal.rule in expected
        event(f"{kind} refused: {refusal.rule}")
        assert _state() == before  # a refused transfer changes nothing
        return
    assert not expected, f"{kind} posted though it breaks {expected}"
    event(f"{kind} posted")
    if kind == "batch":
        assert result == len(first)
        for item in items:
            one = Transfer.objects.get(idempotency_key=item.idempotency_key)
            index = {pk: n for n, pk in enumerate(ids)}
            model.posted.append(
                (
                    one,
                    _net(
                        [
                            (
                                (index[item.debit_account_id], index[item.credit_account_id]),
                                item.minutes,
                            )
                        ]
                    ),
                )
            )
    else:
        if kind == "reverse":
            model.reversed.add(transfer.pk)
        model.posted.append((result, changes))
    model.apply(changes)


def _check(model: Model) -> None:
    check = ledger.verify()
    assert check.ok, (check.mismatched, check.unbalanced, check.total)
    assert check.total == 0
    stored = dict(Account.objects.values_list("pk", "balance"))
    for index, account in enumerate(model.accounts):
        assert stored[account.pk] == model.balance[index]
        if index != ISSUANCE:
            assert stored[account.pk] >= -account.credit_limit


@pytest.fixture
def people(city) -> list[Person]:
    return [make_person(city.grid_a, name) for name in ("甲", "乙", "丙", "丁")]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    limits=LIMITS,
    inactive=st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
    operations=st.lists(OPERATIONS, min_size=1, max_size=15),
)
def test_any_sequence_keeps_the_books_balanced(city, people, limits, inactive, operations):
    with transaction.atomic():
        model = Model(_accounts(city, people, limits, inactive))
        for step, operation in enumerate(operations):
            _attempt(model, operation, step)
            _check(model)
        transaction.set_rollback(True)
