"""How problems read: `path:line:col: field: message`, each part once."""

from __future__ import annotations

from chanperf.core.errors import Problem


def test_a_problem_names_its_field_once():
    assert str(Problem("reason", "a rejection needs a reason", field="reason")) == (
        "reason: a rejection needs a reason"
    )
    assert (
        str(Problem("a.csv", "not an integer", line=3, field="qty"))
        == "a.csv:3: qty: not an integer"
    )
