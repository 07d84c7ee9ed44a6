"""The results job reads a group-sequential plan at its looks, on its leading metric.

The channel of `test_results.generate`: 3000 accounts of R1 start onboarding over 14
weeks after the change; an activated one completes 2 to 27 days after starting, so
about half of the activations happen within 14 days (the leading metric's window).
Looks at quarters of the 98 days of entries, each 14 days later, boundaries from the
published O'Brien-Fleming-type table for four looks.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from chanperf.models.performance import PolicyProposal
from tests.experiments.test_results import IMPLEMENTED, PLAN, generate, results

BOUNDS = [4.333, 2.963, 2.359, 2.014]
LOOK_DAYS = [math.ceil(98 * t) + 14 for t in (0.25, 0.5, 0.75, 1.0)]  # 39, 63, 88, 112
SEQUENTIAL = {
    **PLAN,
    "expected_duration_days": LOOK_DAYS[-1],
    "design": {
        "kind": "group_sequential",
        "metric": {
            "name": "activation_rate",
            "window_days": 14,
            "leading": True,
            "direction": "increase",
        },
        "enrollment_weeks": 14,
        "looks": [
            {"look": k + 1, "information_fraction": t, "day": d, "boundary_z": b}
            for k, (t, d, b) in enumerate(
                zip((0.25, 0.5, 0.75, 1.0), LOOK_DAYS, BOUNDS, strict=True)
            )
        ],
    },
}


def day(n: int) -> date:
    return (IMPLEMENTED + timedelta(days=n)).date()


def sequential_channel(sessions, p_control: float, p_treatment: float, seed: int) -> None:
    generate(sessions, p_control, p_treatment, seed=seed)
    with sessions.begin() as s:
        s.query(PolicyProposal).one().experiment_plan = SEQUENTIAL


def test_a_large_effect_stops_the_test_early(sessions) -> None:
    sequential_channel(sessions, 0.40, 0.65, seed=3)
    res = results(sessions, day(LOOK_DAYS[1] + 1))
    assert res is not None and res["design"] == "group_sequential"
    assert res["verdict"] == "improved" and res["stopped_early"]
    assert res["stopped_at_look"] in (1, 2)
    stop = res["looks"][-1]
    assert abs(stop["z"]) >= stop["boundary_z"] and stop["better"]
    # every look before the stop stayed inside its boundary
    assert all(abs(look["z"]) < look["boundary_z"] for look in res["looks"][:-1])
    # the decision was on 14-day activation: the rates are about half the 30-day ones
    assert res["decision_metric"] == {"name": "activation_rate", "window_days": 14}
    assert 0.15 < stop["rate_control"] < 0.27 and 0.25 < stop["rate_treatment"] < 0.40
    # the first look read only the first quarter of the entries
    first = res["looks"][0]
    assert abs(first["n_treatment"] + first["n_control"] - 750) < 100


def test_a_null_effect_does_not_stop_and_ends_with_no_effect(sessions) -> None:
    sequential_channel(sessions, 0.50, 0.50, seed=4)
    running = results(sessions, day(LOOK_DAYS[1] + 1))
    assert running is not None and running["verdict"] == "in_progress"
    assert [look["look"] for look in running["looks"]] == [1, 2]
    done = results(sessions, day(LOOK_DAYS[-1] + 1))
    assert done is not None and done["verdict"] == "no_effect"
    assert done["stopped_at_look"] is None and len(done["looks"]) == 4
    assert not done["stopped_early"]


def test_not_read_before_the_first_look(sessions) -> None:
    sequential_channel(sessions, 0.40, 0.65, seed=3)
    assert results(sessions, day(LOOK_DAYS[0] - 2)) is None


def test_a_fixed_design_on_a_leading_metric_is_judged_on_it(sessions) -> None:
    generate(sessions, 0.40, 0.65, seed=3)
    plan = {
        **PLAN,
        "expected_duration_days": 98 + 14,
        "design": {"kind": "fixed", "metric": SEQUENTIAL["design"]["metric"]},
    }
    with sessions.begin() as s:
        s.query(PolicyProposal).one().experiment_plan = plan
    res = results(sessions, day(98 + 15))
    assert res is not None and res["design"] == "ab" and res["verdict"] == "improved"
    assert res["decision_metric"] == {"name": "activation_rate", "window_days": 14}
    decision, primary = res["decision"], res["primary"]
    # 14-day activation: about half of the 30-day rates; all 3000 R1 entries are 14 days old
    assert decision["n_control"] + decision["n_treatment"] == 3000
    assert decision["rate_treatment"] < primary["rate_treatment"]
    assert 0.25 < decision["rate_treatment"] < 0.40 and res["estimate"] == decision["estimate"]
    # the 30-day primary only counts the entries 30 days old by then
    assert primary["n_control"] + primary["n_treatment"] < 3000
