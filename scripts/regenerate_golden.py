"""Rewrite tests/golden/compiled_rules.json from the shipped rules and policies.

Run after a deliberate change to the rule pack, a policy value or the compiler,
then review the diff like any code change: it is exactly what durable receives.
"""

from chanperf.rule_compiler import main

if __name__ == "__main__":
    raise SystemExit(main(["--golden"]))
