"""Money: the bill's totals and its shares, as pure functions, with property tests.

Whatever the lines, tax settings, splits, payments started and orders added afterwards, the
shares add up to the total to the minor unit, and a share whose payment started never changes.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.billing import (
    MAX_SHARES,
    Bill,
    BillLine,
    Share,
    Split,
    SplitRefused,
    allocate,
    bill_lines,
    claim,
    claim_amount,
    divide,
    make_bill,
    shares,
    split_even,
    totals,
)
from orchestrator.config import Billing, Rate


def config(
    sc: str = '0', sc_incl: bool = False, tax: str = '0', incl: bool = False, mode: str = 'half_up'
) -> Billing:
    return Billing.model_validate(
        {
            'service_charge': {'name': 'SC', 'percent': sc, 'inclusive': sc_incl},
            'tax': {'name': 'Tax', 'percent': tax, 'inclusive': incl},
            'rounding': mode,
        }
    )


def line(key: str, qty: int, price: int) -> BillLine:
    return BillLine(key, 'o', 'd', {'en': key}, {}, '', qty, price, qty * price)


def test_divide_rounds_each_way() -> None:
    assert [divide(5, 2, m) for m in ('half_up', 'half_even', 'down', 'up')] == [3, 2, 2, 3]
    assert [divide(7, 2, m) for m in ('half_up', 'half_even', 'down', 'up')] == [4, 4, 3, 4]
    assert divide(10, 3, 'half_up') == 3 and divide(20, 3, 'half_up') == 7


def test_korean_vat_included_and_a_service_charge_added() -> None:
    # 33,000 won with 10 % VAT included: the VAT is 3,000, nothing added.
    t = totals(33_000, config(tax='10', incl=True))
    assert (t.tax, t.tax_added, t.total) == (3_000, 0, 33_000)
    # US style: 10 % service charge added, then 8.88 % sales tax on both, in cents.
    t = totals(10_000, config(sc='10', tax='8.88', mode='half_even'))
    assert t.service_charge == 1_000 and t.tax == divide(11_000 * 888, 10_000, 'half_even')
    assert t.total == 11_000 + t.tax


def test_cancelled_and_wasted_units_are_lines_at_zero_with_the_reason() -> None:
    lines = bill_lines(
        'oabc',
        [{'dish_id': 'mandu', 'name': {'en': 'Mandu'}, 'quantity': 3, 'unit_price': 7000}],
        {0: ['cooked', 'withdrawn', 'wasted']},
    )
    assert [(ln.key, ln.quantity, ln.amount, ln.reason) for ln in lines] == [
        ('oabc-0', 1, 7000, ''),
        ('oabc-0-xwithdrawn', 1, 0, 'cancelled'),
        ('oabc-0-xwasted', 1, 0, 'cancelled while cooking'),
    ]


def test_even_split_gives_the_remainder_to_the_first_shares() -> None:
    bill = make_bill([line('a', 1, 10_001)], config())
    out, _ = shares(bill, split_even(3), [])
    assert [s.amount for s in out] == [3334, 3334, 3333]
    assert allocate(10, [0, 0, 0]) == [4, 3, 3]


def test_a_claim_cannot_take_more_units_than_are_left() -> None:
    bill = make_bill([line('a', 2, 5000)], config())
    first = claim(bill, Split(), [], [('a', 1)], 'c1')
    second = claim(bill, first, [], [('a', 1)], 'c2')
    with pytest.raises(SplitRefused, match='only 0 unit') as taken:
        claim(bill, second, [], [('a', 1)], 'c3')
    with pytest.raises(SplitRefused, match='no line') as gone:
        claim(bill, first, [], [('zz', 1)], 'c3')
    # What another phone did meanwhile: the page tells it in the diner's language.
    assert (taken.value.reason, gone.value.reason) == ('units_taken', 'bill_changed')
    out, _ = shares(bill, second, [])
    assert [(s.id, s.amount) for s in out] == [('c1', 5000), ('c2', 5000)]


rates = st.sampled_from(['0', '5', '7.25', '10', '12.5', '33.33'])
billings = st.builds(
    config,
    sc=rates,
    sc_incl=st.booleans(),
    tax=rates,
    incl=st.booleans(),
    mode=st.sampled_from(['half_up', 'half_even', 'down', 'up']),
)
line_lists = st.lists(
    st.tuples(st.integers(1, 6), st.integers(0, 90_000)), min_size=1, max_size=8
).map(lambda xs: [line(f'l{i}', q, p) for i, (q, p) in enumerate(xs)])


@st.composite
def plans(draw: st.DrawFn, bill: Bill) -> Split:
    kind = draw(st.sampled_from(['none', 'even', 'items']))
    if kind == 'even':
        return split_even(draw(st.integers(1, 12)))
    split = Split()
    if kind == 'items':
        # Item claims and amounts put in, in any order (an item claim once dropped the amounts).
        for n in range(draw(st.integers(1, 6))):
            if draw(st.booleans()):
                left = {
                    k: ln.quantity
                    - sum(u for _, items in split.claims for kk, u in items if kk == k)
                    for k, ln in bill.chargeable().items()
                }
                choice = [
                    (k, draw(st.integers(1, q)))
                    for k, q in left.items()
                    if q and draw(st.booleans())
                ]
                if choice:
                    put_in = split.amounts
                    split = claim(bill, split, [], choice, f'c{n}')
                    assert split.amounts == put_in
                continue
            rest = next((s for s in shares(bill, split, [])[0] if s.kind == 'rest'), None)
            if rest is not None:
                split = claim_amount(bill, split, [], draw(st.integers(1, rest.amount)), f'a{n}')
    return split


def assert_adds_up(bill: Bill, out: list[Share], overpaid: int) -> None:
    assert sum(s.amount for s in out) == bill.total + overpaid
    assert all(s.amount >= 0 for s in out)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), lines=line_lists, cfg=billings)
def test_shares_always_add_up_to_the_total(data: st.DataObject, lines: list, cfg: Billing) -> None:
    bill = make_bill(lines, cfg)
    t = bill.totals
    assert t.total == t.subtotal + t.service_charge_added + t.tax_added
    assert 0 <= t.tax <= t.subtotal + t.service_charge + t.tax
    split = data.draw(plans(bill))
    out, overpaid = shares(bill, split, [])
    assert overpaid == 0
    assert_adds_up(bill, out, 0)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), lines=line_lists, more=line_lists, cfg=billings)
def test_frozen_shares_never_change_and_new_orders_go_to_open_shares(
    data: st.DataObject, lines: list, more: list, cfg: Billing
) -> None:
    bill = make_bill(lines, cfg)
    split = data.draw(plans(bill))
    out, _ = shares(bill, split, [])
    # Some diners start paying: those shares are frozen with their amounts.
    frozen = [
        replace(s, status=data.draw(st.sampled_from(['paying', 'paid'])), payment_id=f'p{i}')
        for i, s in enumerate(out)
        if data.draw(st.booleans())
    ]
    again, _ = shares(bill, split, frozen)
    assert_adds_up(bill, again, 0)
    # More is ordered afterwards (new line keys): a share not being paid takes it.
    bigger = make_bill(lines + [replace(ln, key=f'n{ln.key}') for ln in more], cfg)
    after, overpaid = shares(bigger, split, frozen)
    assert overpaid == 0
    assert_adds_up(bigger, after, 0)
    for f in frozen:
        assert next(s for s in after if s.id == f.id) == f


@settings(max_examples=200, deadline=None)
@given(lines=line_lists, cfg=billings, ways=st.integers(1, 12))
def test_an_even_split_differs_by_at_most_one_minor_unit(
    lines: list, cfg: Billing, ways: int
) -> None:
    bill = make_bill(lines, cfg)
    out, _ = shares(bill, split_even(ways), [])
    amounts = [s.amount for s in out]
    assert sum(amounts) == bill.total
    if len(amounts) == ways:
        assert max(amounts) - min(amounts) <= 1 and amounts == sorted(amounts, reverse=True)


def test_an_amount_put_in_comes_out_of_what_nobody_claimed() -> None:
    """A claims the steak, B puts in 8,000 towards the rest (two sides): A still pays the
    steak, the rest what B did not cover; claims past what is left are refused."""
    bill = make_bill([line('steak', 1, 20_000), line('side', 2, 5_000)], config())
    split = claim(bill, Split(), [], [('steak', 1)], 'c1')
    split = claim_amount(bill, split, [], 8_000, 'c2')
    out, _ = shares(bill, split, [])
    assert [(s.id, s.kind, s.amount) for s in out] == [
        ('c1', 'items', 20_000),
        ('c2', 'amount', 8_000),
        ('r1', 'rest', 2_000),
    ]
    with pytest.raises(SplitRefused, match='between 1 and 2000') as over:
        claim_amount(bill, split, [], 2_001, 'c3')
    assert over.value.reason == 'bill_changed'
    # B pays; then C claims a side out of the rest B's 8,000 went to: the 3,000 B put in
    # beyond what is left unclaimed lowers A's and C's shares in proportion.
    frozen = [replace(out[1], status='paid', payment_id='p1')]
    split = claim(bill, split, frozen, [('side', 1)], 'c3')
    out, overpaid = shares(bill, split, frozen)
    assert overpaid == 0
    assert [(s.id, s.amount) for s in out] == [('c2', 8_000), ('c1', 17_600), ('c3', 4_400)]
    # Everything claimed by item: nothing is left to put an amount in.
    split = claim(bill, split, frozen, [('side', 1)], 'c4')
    with pytest.raises(SplitRefused, match='nothing is left'):
        claim_amount(bill, split, frozen, 1, 'c5')


def test_a_bill_holds_at_most_max_shares_claims_and_shares_being_paid() -> None:
    """Without a cap one phone could put in 1 won at a time until the bill, read by every
    phone, was thousands of shares long."""
    bill = make_bill([line('a', 3, 10_000)], config())
    split = claim(bill, Split(), [], [('a', 1)], 'c98')
    for n in range(MAX_SHARES - 2):
        split = claim_amount(bill, split, [], 1, f'c{n}')
    # One being paid (frozen) counts as well.
    frozen = [Share('c99', 'amount', 1, 'paying', payment_id='p1')]
    for refused in (
        lambda: claim_amount(bill, split, frozen, 1, 'c100'),
        lambda: claim(bill, split, frozen, [('a', 1)], 'c100'),
    ):
        with pytest.raises(SplitRefused, match=f'{MAX_SHARES} shares') as e:
            refused()
        assert e.value.reason == 'too_many_shares'
    # Without the frozen one there is room for one more.
    assert len(claim_amount(bill, split, [], 1, 'c100').amounts) == MAX_SHARES - 1


def test_an_item_claim_keeps_the_amounts_put_in_before_it() -> None:
    """B puts in 8,000, then A claims the steak: B's share is still there (it was dropped, and
    B's payment of it refused with share_changed)."""
    bill = make_bill([line('steak', 1, 20_000), line('side', 2, 5_000)], config())
    split = claim_amount(bill, Split(), [], 8_000, 'c1')
    split = claim(bill, split, [], [('steak', 1)], 'c2')
    assert split.amounts == [('c1', 8_000)]
    out, _ = shares(bill, split, [])
    assert [(s.id, s.kind, s.amount) for s in out] == [
        ('c2', 'items', 20_000),
        ('c1', 'amount', 8_000),
        ('r1', 'rest', 2_000),
    ]


def test_paying_more_than_a_reduced_bill_shows_the_overpaid_amount() -> None:
    bill = make_bill([line('a', 1, 5000)], config())
    frozen = [Share('all', 'whole', 8000, 'paid', payment_id='p1')]
    out, overpaid = shares(bill, Split(), frozen)
    assert overpaid == 3000 and out == frozen


def test_rate_percent_allows_two_decimals_only() -> None:
    assert Rate(name='x', percent=Decimal('7.25')).basis_points == 725
    with pytest.raises(ValueError, match='decimal places'):
        Rate(name='x', percent=Decimal('7.125'))
