"""Findings per second through the shipped rule pack: durable and the pure evaluator side by side.

    .venv/bin/python benchmarks/rules_throughput.py [--findings 20000] [--batch 1000]

Findings are spread over every kind, about half of them firing a rule; each batch
is one evaluation (one durable session), like one analysis run. Target: >= 20k findings/s.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import date
from typing import Any

from chanperf.analysis.findings import FINDING_TYPES, Finding, finding_from_dict
from chanperf.core.settings import REPO_ROOT
from chanperf.policies.load import load_policies
from chanperf.rules.engine import evaluate
from chanperf.rules.load import load_rules
from chanperf.rules.testing import load_rule_tests


def sample_findings(count: int, seed: int = 1) -> list[Finding]:
    """Vary the rule tests' findings (they cover every kind, firing and not) to `count` items."""
    templates = [f for t in load_rule_tests(REPO_ROOT / "rules" / "tests") for f in t.findings]
    assert {f.kind for f in templates} == set(FINDING_TYPES)
    rng = random.Random(seed)
    return [_jitter(rng.choice(templates), rng) for _ in range(count)]


def _jitter(finding: Finding, rng: random.Random) -> Finding:
    data: dict[str, Any] = {"kind": finding.kind}
    data.update({k: v for k, v in vars(finding).items() if v is not None})
    if "p_value_adj" in data:
        data["p_value_adj"] = data["p_value_adj"] * rng.choice((0.5, 1.0, 4.0))
    data["period_start"], data["period_end"] = date(2024, 1, 1), date(2024, 3, 31)
    return finding_from_dict(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    policy_set = load_policies(REPO_ROOT / "policies")
    rules = load_rules(REPO_ROOT / "rules", policy_set)
    findings = sample_findings(args.findings)
    batches = [findings[i : i + args.batch] for i in range(0, len(findings), args.batch)]
    print(f"{len(rules)} rules, {len(findings)} findings in batches of {args.batch}")
    results = {}
    for backend in ("durable", "pure"):
        evaluate(rules, policy_set, batches[0], backend=backend)  # register / build once
        start = time.perf_counter()
        matches = sum(len(evaluate(rules, policy_set, b, backend=backend)) for b in batches)
        elapsed = time.perf_counter() - start
        results[backend] = matches
        print(
            f"{backend:>8}: {len(findings) / elapsed:>9,.0f} findings/s  "
            f"({elapsed * 1000:.0f} ms, {matches} matches, "
            f"{elapsed / len(batches) * 1000:.1f} ms per batch)"
        )
    if results["durable"] != results["pure"]:
        raise SystemExit(f"backends disagree: {results}")


if __name__ == "__main__":
    main()
