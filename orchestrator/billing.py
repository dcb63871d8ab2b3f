"""The bill and its split: pure functions over integers in the currency's minor unit.

No I/O and no floats: the store reads the session's orders and dish states, these functions
work out what is owed and who pays which part.

**The bill.** Every order line is a bill line at the unit price it was ordered at; dish units
that were cancelled before cooking (`withdrawn`), thrown away mid-cooking (`wasted`) or could
not be cooked (`dead`) are a line of their own at zero, with the reason. Then, with the
restaurant's `billing` settings (rates in basis points, so integers throughout):

- subtotal S = the sum of the chargeable lines;
- service charge: added on top, R(S × rate), or, when `inclusive`, the part of S it is:
  S − R(S / (1 + rate));
- tax on P = S + the added service charge: added on top, R(P × rate), or, when `inclusive`,
  the part of P it is: P − R(P / (1 + rate));
- total = S + what was added on top.

R rounds once to the minor unit with `billing.rounding` (half_up, half_even, down, up).

**Shares.** Shares whose payment has started (`paying`, `paid`, `refunded`) are *frozen*: their
amount never changes again. What is left, remaining = total − frozen, is divided among the open
shares, which are derived from the split each time the bill is read:

- no split: one share of everything left;
- even N ways: the even shares not frozen split what is left equally;
- by item: each claim is a share of the chosen dish units (a line of 3 can be claimed unit by
  unit), and the units nobody claimed form the rest share; what is left is divided in proportion
  to the claimed value.

`allocate` divides by the largest-remainder method: every share gets the floor of its exact
part, and the minor units left over (fewer than the number of shares) go one each to the shares
with the largest fractional part, ties to the earlier share — in an even split, the first
shares. So the shares always add up to the total to the minor unit. If no open share is left
while something remains (a dish ordered after every share was being paid), a new rest share
takes it. If the frozen shares exceed the total (a dish cancelled after paying), nothing is
open and the bill shows the overpaid amount, for a refund.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from orchestrator.config import Billing

Rounding = Literal['half_up', 'half_even', 'down', 'up']
BP = 10_000
# Why a dish unit is not charged, by its cook-job status.
ZERO_REASONS = {
    'withdrawn': 'cancelled',
    'wasted': 'cancelled while cooking',
    'dead': 'could not be cooked',
}
FROZEN = frozenset({'paying', 'paid', 'refunded'})
MAX_WAYS = 20
# Item and amount claims, with the shares being paid, a visit's split may hold: each is read,
# worked out and sent to every phone with every bill.
MAX_SHARES = 40


def divide(numerator: int, denominator: int, mode: Rounding) -> int:
    """numerator / denominator rounded to an integer (both >= 0, denominator > 0)."""
    q, r = divmod(numerator, denominator)
    if r == 0 or mode == 'down':
        return q
    if mode == 'up':
        return q + 1
    twice = 2 * r
    if twice > denominator or (twice == denominator and (mode == 'half_up' or q % 2 == 1)):
        return q + 1
    return q


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` divided in proportion to `weights` (largest remainder; ties to the earlier);
    equal parts when every weight is zero. The parts add up to `amount` exactly."""
    if not weights:
        return []
    if not any(weights):
        weights = [1] * len(weights)
    total = sum(weights)
    parts = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    left = amount - sum(parts)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        parts[i] += 1
    return parts


@dataclass(frozen=True)
class Totals:
    subtotal: int
    service_charge: int
    service_charge_added: int
    tax: int
    tax_added: int
    total: int


def totals(subtotal: int, billing: Billing) -> Totals:
    mode: Rounding = billing.rounding
    sc_bp, tax_bp = billing.service_charge.basis_points, billing.tax.basis_points
    if billing.service_charge.inclusive:
        sc = subtotal - divide(subtotal * BP, BP + sc_bp, mode)
        sc_added = 0
    else:
        sc = sc_added = divide(subtotal * sc_bp, BP, mode)
    taxable = subtotal + sc_added
    if billing.tax.inclusive:
        tax = taxable - divide(taxable * BP, BP + tax_bp, mode)
        tax_added = 0
    else:
        tax = tax_added = divide(taxable * tax_bp, BP, mode)
    return Totals(subtotal, sc, sc_added, tax, tax_added, subtotal + sc_added + tax_added)


@dataclass(frozen=True)
class BillLine:
    # `{order_id}-{line}`: the key a by-item split names; zero lines end in `-x{status}`.
    key: str
    order_id: str
    dish_id: str
    name: dict[str, str]
    options: dict[str, str]
    note: str
    quantity: int
    unit_price: int
    amount: int
    reason: str = ''

    def view(self) -> dict[str, Any]:
        return {
            'key': self.key,
            'order_id': self.order_id,
            'dish_id': self.dish_id,
            'name': self.name,
            'options': self.options,
            'note': self.note,
            'quantity': self.quantity,
            'unit_price': self.unit_price,
            'amount': self.amount,
            'reason': self.reason or None,
        }


@dataclass(frozen=True)
class Bill:
    lines: list[BillLine]
    totals: Totals

    @property
    def total(self) -> int:
        return self.totals.total

    def chargeable(self) -> dict[str, BillLine]:
        return {ln.key: ln for ln in self.lines if not ln.reason}


def bill_lines(
    order_id: str, lines: Sequence[Mapping[str, Any]], unit_status: Mapping[int, list[str]]
) -> list[BillLine]:
    """One order's bill lines: `unit_status[line]` is the cook-job status of each unit."""
    out = []
    for li, line in enumerate(lines):
        statuses = unit_status.get(li, [])
        zero: dict[str, int] = {}
        for status in statuses:
            if status in ZERO_REASONS:
                zero[status] = zero.get(status, 0) + 1
        charged = int(line['quantity']) - sum(zero.values())
        base = BillLine(
            key=f'{order_id}-{li}',
            order_id=order_id,
            dish_id=str(line['dish_id']),
            name=dict(line['name']),
            options=dict(line.get('options') or {}),
            note=str(line.get('note') or ''),
            quantity=charged,
            unit_price=int(line['unit_price']),
            amount=charged * int(line['unit_price']),
        )
        if charged > 0:
            out.append(base)
        for status, n in zero.items():
            out.append(
                replace(
                    base,
                    key=f'{base.key}-x{status}',
                    quantity=n,
                    amount=0,
                    reason=ZERO_REASONS[status],
                )
            )
    return out


def make_bill(lines: list[BillLine], billing: Billing) -> Bill:
    return Bill(lines, totals(sum(ln.amount for ln in lines), billing))


# -- shares ------------------------------------------------------------------------------

Items = list[tuple[str, int]]  # (bill line key, units)


ShareKind = Literal['whole', 'even', 'items', 'amount', 'rest']


@dataclass(frozen=True)
class Share:
    id: str
    kind: ShareKind
    amount: int
    status: str = 'open'  # open | paying | paid | refunded
    items: Items = field(default_factory=list)
    payment_id: str = ''
    # Why its last payment was declined (an open share the diner may pay again).
    declined: str = ''

    def to_json(self) -> dict[str, Any]:
        return {
            'id': self.id,
            'kind': self.kind,
            'amount': self.amount,
            'status': self.status,
            'items': [list(i) for i in self.items],
            'payment_id': self.payment_id,
        }

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> Share:
        return Share(
            id=str(d['id']),
            kind=d['kind'],
            amount=int(d['amount']),
            status=str(d.get('status', 'paying')),
            items=[(str(k), int(n)) for k, n in d.get('items', [])],
            payment_id=str(d.get('payment_id', '')),
        )


@dataclass(frozen=True)
class Split:
    """How the diners chose to split (stored on the session): `ways` for an even split; for a
    split by claim (`items`), the item claims and the amount claims ("I put in 20,000"), each
    with its share id."""

    mode: Literal['none', 'even', 'items'] = 'none'
    ways: int = 1
    claims: list[tuple[str, Items]] = field(default_factory=list)
    amounts: list[tuple[str, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            'mode': self.mode,
            'ways': self.ways,
            'claims': [[cid, [list(i) for i in items]] for cid, items in self.claims],
        }
        if self.amounts:
            out['amounts'] = [[cid, amount] for cid, amount in self.amounts]
        return out

    @staticmethod
    def from_json(d: Mapping[str, Any] | None) -> Split:
        if not d:
            return Split()
        return Split(
            mode=d.get('mode', 'none'),
            ways=int(d.get('ways', 1)),
            claims=[
                (str(cid), [(str(k), int(n)) for k, n in items])
                for cid, items in d.get('claims', [])
            ],
            amounts=[(str(cid), int(amount)) for cid, amount in d.get('amounts', [])],
        )


class SplitRefused(ValueError):
    # `reason`: a code a diner's page shows in its language (api/errors.py), '' for a plain
    # mistake in the request.
    def __init__(self, field: str, message: str, reason: str = '') -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.reason = reason


def claimed_units(shares: Iterable[Share | tuple[str, Items]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in shares:
        items = s.items if isinstance(s, Share) else s[1]
        for key, n in items:
            out[key] = out.get(key, 0) + n
    return out


def _value(bill: Bill, items: Items) -> int:
    lines = bill.chargeable()
    return sum(lines[k].unit_price * n for k, n in items if k in lines)


def shares(
    bill: Bill, split: Split, frozen: Sequence[Share], declined: Mapping[str, str] | None = None
) -> tuple[list[Share], int]:
    """Every share of the bill (frozen ones as they are, open ones worked out now) and the
    amount overpaid (> 0 only when the frozen shares exceed the total).

    Item shares and the rest divide what is left in proportion to their dishes' prices; the
    amount claims are paid out of the rest's part (the dishes nobody claimed), in the order
    they were made, never beyond it."""
    declined = declined or {}
    remaining = bill.total - sum(s.amount for s in frozen if s.status in FROZEN)
    if remaining <= 0:
        return list(frozen), max(0, -remaining)
    frozen_ids = {s.id for s in frozen}
    open_defs: list[tuple[str, ShareKind, Items, int]] = []
    if split.mode == 'even':
        for i in range(1, split.ways + 1):
            if f'e{i}' not in frozen_ids:
                open_defs.append((f'e{i}', 'even', [], 1))
    elif split.mode == 'items':
        for cid, items in split.claims:
            if cid not in frozen_ids:
                open_defs.append((cid, 'items', items, _value(bill, items)))
    # Units not claimed by any frozen or open item share.
    taken = claimed_units([*frozen, *split.claims])
    rest: Items = [
        (k, ln.quantity - taken.get(k, 0))
        for k, ln in bill.chargeable().items()
        if ln.quantity > taken.get(k, 0)
    ]
    put_in = sum(s.amount for s in frozen if s.kind == 'amount' and s.status in FROZEN)
    if split.mode != 'even' or not open_defs:
        n = 1 + sum(1 for s in frozen if s.kind in ('rest', 'whole'))
        kind: ShareKind = 'whole' if split.mode == 'none' and n == 1 else 'rest'
        rest_id = 'all' if kind == 'whole' else f'r{n}'
        # The rest carries its units, so that once it is being paid nobody can claim them.
        open_defs.append((rest_id, kind, rest, _value(bill, rest) if split.mode == 'items' else 1))
    rest_last = open_defs[-1][1] in ('rest', 'whole')
    amounts = allocate(remaining + (put_in if rest_last else 0), [w for *_, w in open_defs])
    if rest_last:
        # What the amounts put in came out of the rest's part; past it (dishes claimed or
        # cancelled since), the item shares split what is left.
        budget = amounts[-1] - put_in
        if budget < 0:
            amounts = [*allocate(remaining, [w for *_, w in open_defs[:-1]]), 0]
            budget = 0
        for cid, wanted in split.amounts:
            if cid not in frozen_ids:
                give = min(wanted, budget)
                open_defs.insert(-1, (cid, 'amount', [], 0))
                amounts.insert(-1, give)
                budget -= give
        amounts[-1] = budget
    out = list(frozen)
    for (sid, share_kind, items, _), amount in zip(open_defs, amounts, strict=True):
        if amount > 0:
            out.append(Share(sid, share_kind, amount, items=items, declined=declined.get(sid, '')))
    return out, 0


def _room_for_a_claim(split: Split, frozen: Sequence[Share], field: str) -> None:
    """SplitRefused once the bill holds MAX_SHARES claims and shares being paid: without a cap
    one phone could put in 1 won at a time until the bill is thousands of shares long."""
    made = {s.id for s in frozen} | {c for c, _ in split.claims} | {c for c, _ in split.amounts}
    if len(made) >= MAX_SHARES:
        raise SplitRefused(
            field,
            f'this bill already has {len(made)} shares, the most it can have: pay those there '
            'are, or split it again from the start (mode none)',
            'too_many_shares',
        )


def claim_amount(
    bill: Bill, split: Split, frozen: Sequence[Share], amount: int, share_id: str
) -> Split:
    """The split with one more amount claim (`share_id`): a share of `amount` out of what
    nobody has claimed yet (the open rest). An even split is dropped (by claim replaces it)."""
    base = split if split.mode == 'items' else Split('items')
    _room_for_a_claim(base, frozen, 'amount')
    out, _ = shares(bill, base, frozen)
    rest = next((s for s in out if s.kind in ('rest', 'whole') and s.status == 'open'), None)
    if rest is None:
        raise SplitRefused(
            'amount', 'nothing is left to pay beyond the shares already made', 'bill_changed'
        )
    if not 1 <= amount <= rest.amount:
        # The page offers at most the rest: more is what another phone took meanwhile.
        raise SplitRefused(
            'amount', f'amount must be between 1 and {rest.amount}, what is left', 'bill_changed'
        )
    return replace(base, amounts=[*base.amounts, (share_id, amount)])


def split_even(ways: int) -> Split:
    if not 1 <= ways <= MAX_WAYS:
        raise SplitRefused('ways', f'ways must be between 1 and {MAX_WAYS}')
    return Split('even', ways) if ways > 1 else Split()


def claim(bill: Bill, split: Split, frozen: Sequence[Share], items: Items, share_id: str) -> Split:
    """The split with one more item claim (`share_id`): every unit must be on the bill and not
    claimed by anyone yet. An even split is dropped (by item replaces it); the amount claims
    stay."""
    if not items:
        raise SplitRefused('items', 'choose at least one dish')
    lines = bill.chargeable()
    base = split if split.mode == 'items' else Split('items')
    _room_for_a_claim(base, frozen, 'items')
    taken = claimed_units([*frozen, *base.claims])
    wanted: dict[str, int] = {}
    for i, (key, n) in enumerate(items):
        if key not in lines:
            # Most often a dish cancelled since the phone showed the bill.
            raise SplitRefused(
                f'items[{i}].line', f'no line {key!r} to pay on this bill', 'bill_changed'
            )
        if n < 1:
            raise SplitRefused(f'items[{i}].units', 'units must be at least 1')
        wanted[key] = wanted.get(key, 0) + n
        free = lines[key].quantity - taken.get(key, 0)
        if wanted[key] > free:
            # Most often another phone at the table claimed them a moment before.
            raise SplitRefused(
                f'items[{i}].units',
                f'only {free} unit(s) of {key!r} are left to claim',
                'units_taken',
            )
    # The amounts put in stay: another phone's "I put in 10,000" is not dropped by this claim.
    return replace(base, claims=[*base.claims, (share_id, sorted(wanted.items()))])
