"""The invariant language: what it accepts, what it refuses, and what a violation shows."""
from __future__ import annotations

import pytest

from harness.invariants.expr import Expression, ExprError, evaluate

CHARGES = [{"saga_id": "a", "status": "charged", "amount": 5}, {"saga_id": "b", "status": "charged", "amount": 7},
           {"saga_id": "c", "status": "refunded", "amount": 3}]
SAGAS = [{"id": "a", "state": "completed"}, {"id": "b", "state": "compensated"}, {"id": "c", "state": "compensated"}]
VALUES = {"charges": CHARGES, "sagas": SAGAS, "totals": {"debited": 12, "charged": 12},
          "accounts": [{"initial": 100, "balance": 88}, {"initial": 50, "balance": 50}]}


def holds(text: str, values: dict | None = None) -> bool | None:
    return evaluate(Expression.parse(text), VALUES if values is None else values).holds


def test_a_filter_keeps_the_rows_whose_condition_holds() -> None:
    assert holds("count(charges[status == 'charged']) == 2")
    assert holds("charges[amount > 4].saga_id == ['a', 'b']")


def test_a_filter_may_read_other_audits_as_well_as_the_row() -> None:
    assert not holds("count(charges[status == 'charged' and saga_id not in sagas[state == 'completed'].id]) == 0")


def test_sums_over_columns_conserve_money() -> None:
    assert holds("sum(accounts.initial) - sum(accounts.balance) == sum(charges[status == 'charged'].amount)")


def test_a_single_row_has_fields() -> None:
    assert holds("totals.debited == totals.charged")


def test_duplicates_lists_each_repeated_value_once() -> None:
    assert holds("duplicates(charges.status) == ['charged']")
    assert holds("count(duplicates(sagas.id)) == 0")


def test_it_is_the_element_of_a_list_of_plain_values() -> None:
    assert holds("sagas.id[it not in charges.saga_id] == []")


def test_membership_in_a_long_list_is_exact() -> None:
    many = {"ids": [{"id": i} for i in range(1000)], "wanted": [{"id": float(i)} for i in range(0, 1000, 2)]}
    assert holds("count(ids[id in wanted.id]) == 500", many)


def test_sql_null_is_skipped_by_aggregates_and_refused_in_arithmetic() -> None:
    rows = {"r": [{"v": 1}, {"v": None}, {"v": 2}]}
    assert holds("sum(r.v) == 3", rows)
    result = evaluate(Expression.parse("r[0].v + r[1].v == 1"), rows)
    assert result.holds is None and "null (SQL NULL or a missing value) in arithmetic" in (result.error or "")


def test_a_violation_traces_the_offending_rows() -> None:
    result = evaluate(Expression.parse("count(charges[status == 'charged' and saga_id not in "
                                       "sagas[state == 'completed'].id]) == 0"), VALUES)
    assert result.holds is False
    traced = {t.expression: t.value for t in result.trace}
    assert traced["charges[status == 'charged' and saga_id not in sagas[state == 'completed'].id]"] == [CHARGES[1]]
    assert traced["sagas[state == 'completed']"] == [SAGAS[0]]


def test_an_expression_that_is_not_true_or_false_is_an_error_not_a_pass() -> None:
    result = evaluate(Expression.parse("count(charges)"), VALUES)
    assert result.holds is None and "not true or false" in (result.error or "")


def test_a_missing_field_names_the_fields_there_are() -> None:
    result = evaluate(Expression.parse("charges.amonut == []"), VALUES)
    assert result.error == "'charges.amonut': a row has no field 'amonut'; fields: saga_id, status, amount"


@pytest.mark.parametrize("text, message", [
    ("__import__('os')", "unknown function '__import__'"),
    ("[c for c in charges]", "listcomp is not allowed in an invariant"),
    ("charges.__class__.mro()", "unknown function 'charges.__class__.mro'"),
    ("lambda: 1", "lambda is not allowed"),
    ("count(charges,", "cannot parse"),
    ("sum(charges, start=1)", "sum() takes no keyword arguments"),
])
def test_anything_but_an_expression_over_audits_is_refused(text: str, message: str) -> None:
    with pytest.raises(ExprError, match=message.replace("(", "\\(").replace(")", "\\)")):
        Expression.parse(text)


def test_the_names_outside_filters_are_the_audits_it_reads() -> None:
    expr = Expression.parse("count(charges[saga_id not in sagas.id]) == len(totals)")
    assert expr.names == {"charges", "totals"}
