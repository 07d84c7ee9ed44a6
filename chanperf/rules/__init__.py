"""Rules as code: `rules/*.yaml` decide which findings become insights.

Takes rule files and the policy set; returns typed rules (`load`), their durable_rules
form (`compile`), and the matches of findings against them (`engine`, with the pure
evaluator `pure` as cross-check and fallback); `testing` runs rule unit tests and
`lint` checks a policy and rule repository.
"""
