"""Rewrite tests/golden/compiled_rules.json from the shipped rules and policies.

Run after a deliberate change to the rule pack, a policy value or the compiler,
then review the diff like any code change: it is exactly what durable receives.
"""

from pathlib import Path

from chanperf.rules.compile import golden_text

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "compiled_rules.json"

if __name__ == "__main__":
    GOLDEN.write_text(golden_text(ROOT / "rules", ROOT / "policies"), encoding="utf-8")
    print(f"wrote {GOLDEN}")
