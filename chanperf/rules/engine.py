"""The seam around durable_rules: the only module that imports `durable`.

durable_rules 2.0.28 is unmaintained and has measured quirks (docs/rules-engine.md);
it is used here only in the way measured safe:
- one Host per process, created lazily under a lock (Hosts are never freed);
- a ruleset is registered once per distinct compiled content, under a name derived
  from its hash: a changed rule or policy file takes effect without a restart, an
  unchanged one registers nothing (durable cannot delete or re-register rulesets);
- a fresh session id per evaluation, so runs never see each other's facts;
- one synchronous `assert_fact` per finding (batch calls return before actions ran),
  with a unique fact id; no match (`MessageNotHandledException`) is a normal result;
- every returned state is checked for `exception` (durable swallows action errors);
- `delete_state` only once every call returned (deleting with actions pending segfaults);
- every session starts with a sentinel fact that a sentinel rule matches: measured here,
  `delete_state` of a session in which no fact ever matched aborts the process
  (`free(): invalid pointer`), and a run whose findings all stay silent is normal.
Where `durable` cannot be imported the pure evaluator (`chanperf.rules.pure`) is used, with a
warning. One `RulesEngine` per process (`ENGINE`) owns the Host and every cache.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from types import ModuleType
from typing import Any, Literal

from chanperf.analysis.findings import Finding
from chanperf.core.enums import Severity
from chanperf.core.errors import ChanperfError
from chanperf.policies.load import PolicySet
from chanperf.rules.compile import CompiledRules, compile_rules
from chanperf.rules.load import Rule
from chanperf.rules.pure import Predicate, compile_predicate, rule_predicate

try:  # durable_rules builds from source and does not import on Python 3.13
    from durable import engine as durable_engine
except ImportError:  # pragma: no cover - the pure evaluator takes over
    durable_engine = None

log = logging.getLogger(__name__)

Backend = Literal["auto", "durable", "pure"]


class RulesEngineError(ChanperfError):
    """The rules engine misbehaved (a bug to report, not bad input)."""

    code = "rules_engine_error"


class RuleActionError(RulesEngineError):
    """An exception raised inside a rule action, which durable only returns in its state."""


@dataclass(frozen=True)
class Match:
    """A rule fired on a finding; `severity` is the first ladder step that holds (or the default)."""

    rule: Rule
    finding: Finding
    finding_index: int
    severity: Severity
    policy_set: PolicySet


# durable's JSON reader rejects numbers in exponent notation (error 204), and Python
# writes floats below 1e-4 or from 1e16 that way (p-values of 1e-10 are common). Facts
# carry such numbers clamped to the nearest magnitude durable reads; rules may only use
# thresholds inside that range (checked when rules load), so no comparison changes.
DURABLE_MIN_MAGNITUDE = 1e-4
DURABLE_MAX_MAGNITUDE = 1e15


def _fact_value(value: Any) -> Any:
    if isinstance(value, float) and value != 0:
        if math.isnan(value):
            return None
        magnitude = min(max(abs(value), DURABLE_MIN_MAGNITUDE), DURABLE_MAX_MAGNITUDE)
        return math.copysign(magnitude, value)
    return value


def engine_fact(finding: Finding) -> dict[str, Any]:
    """The finding as a fact for both backends: scalars only, None/NaN left out, numbers clamped.

    Same values as to_fact, built directly: this runs once per finding on the hot path.
    """
    fact: dict[str, Any] = {"kind": finding.kind}
    for spec in dataclasses.fields(finding):
        name = spec.name
        value = getattr(finding, name)
        kind = type(value)
        if kind is float:
            value = _fact_value(value)
        elif kind is date:
            value = value.isoformat()
        elif kind not in (str, int, bool):
            if not isinstance(value, str | int | float):  # subclasses such as StrEnum pass
                continue
            value = _fact_value(value.value if isinstance(value, Enum) else value)
        if value is not None:
            fact[name] = value
    return fact


# The sentinel rule and fact (see the module docstring); no finding kind starts with "__".
SESSION_RULE = "__chanperf_session__"
_SESSION_DEFINITION = {"all": [{"m": {"kind": SESSION_RULE}}], "run": SESSION_RULE}
# Caches of compiled predicates are keyed by the compiled content's name; a long-running
# process that sees many rule or policy edits keeps at most this many.
_CACHE_LIMIT = 32

Predicates = list[tuple[str, str, Predicate]]
Ladders = dict[str, list[tuple[Severity, Predicate]]]


class RulesEngine:
    """The process's rules engine: durable's one Host, the rulesets registered on it, the
    rules fired by the sessions in flight, and the predicates both backends compile."""

    def __init__(self, durable: ModuleType | None = durable_engine) -> None:
        self._durable = durable
        self._lock = threading.Lock()
        self._host: Any = None
        self.registered: set[str] = set()
        # Fired rules per session id; filled by the actions while assert_fact runs.
        self._fired: dict[str, list[tuple[str, str]]] = {}
        self._predicates: dict[str, Predicates] = {}
        self._ladders: dict[str, Ladders] = {}
        self._warned_fallback = False

    @property
    def durable_available(self) -> bool:
        return self._durable is not None

    def _record_fire(self, rule_id: str, sid: str, fact_id: str) -> None:
        self._fired[sid].append((rule_id, fact_id))

    def host(self) -> Any:
        """durable's Host, created on first use (Hosts are never freed: one per process)."""
        if self._host is None:
            assert self._durable is not None
            engine = self

            class Host(self._durable.Host):  # type: ignore[name-defined]
                def get_action(self, action_name: str) -> Any:
                    def action(c: Any) -> None:
                        if action_name != SESSION_RULE:
                            engine._record_fire(action_name, c.m.sid, c.m.id)

                    return action

            self._host = Host()
        return self._host

    def run_durable(
        self, compiled: CompiledRules, facts: Sequence[Mapping[str, Any]]
    ) -> list[list[str]]:
        assert self._durable is not None
        not_handled = self._durable.MessageNotHandledException
        observed = self._durable.MessageObservedException
        fired_by_fact: list[list[str]] = [[] for _ in facts]
        with self._lock:
            host = self.host()
            if compiled.name not in self.registered:
                # set_rulesets mutates its argument: give it a copy.
                definition = copy.deepcopy({**compiled.ruleset, SESSION_RULE: _SESSION_DEFINITION})
                host.set_rulesets({compiled.name: definition})
                self.registered.add(compiled.name)
            sid = uuid.uuid4().hex
            self._fired[sid] = []
            index_of: dict[str, int] = {}
            error: RulesEngineError | None = None
            try:
                state = host.assert_fact(
                    compiled.name, {"id": sid, "sid": sid, "kind": SESSION_RULE}
                )
                if isinstance(state, dict) and "exception" in state:
                    error = RuleActionError(f"rule action failed: {state['exception']}")
                for i, fact in enumerate(facts if error is None else ()):
                    for attempt in range(2):
                        fact_id = f"{sid}-{i}-{attempt}"
                        index_of[fact_id] = i
                        try:
                            state = host.assert_fact(
                                compiled.name, {**fact, "id": fact_id, "sid": sid}
                            )
                        except not_handled:
                            break
                        except observed:
                            # Our ids are unique, so this is durable's 32-bit id hash
                            # colliding. Nothing fired for the refused fact: retry once.
                            if attempt == 1:
                                raise RulesEngineError(
                                    f"durable reported distinct fact {fact_id} as a duplicate "
                                    "twice: report this as a bug"
                                ) from None
                            log.warning("durable flagged fact %s as a duplicate; retrying", fact_id)
                            continue
                        if isinstance(state, dict) and "exception" in state:
                            error = RuleActionError(f"rule action failed: {state['exception']}")
                        break
                    if error is not None:
                        break
            finally:
                # Every assert_fact above was synchronous and has returned: safe to delete.
                host.delete_state(compiled.name, sid)
                fired = self._fired.pop(sid)
            if error is not None:
                raise error
        for rule_id, fact_id in fired:
            fired_by_fact[index_of[fact_id]].append(rule_id)
        return fired_by_fact

    def _rule_predicates(self, compiled: CompiledRules) -> Predicates:
        cached = self._predicates.get(compiled.name)
        if cached is None:
            if len(self._predicates) >= _CACHE_LIMIT:
                self._predicates.clear()
            cached = [
                (rule_id, rule["all"][0]["m"]["$and"][0]["kind"], rule_predicate(rule))
                for rule_id, rule in compiled.ruleset.items()
            ]
            self._predicates[compiled.name] = cached
        return cached

    def run_pure(
        self, compiled: CompiledRules, facts: Sequence[Mapping[str, Any]]
    ) -> list[list[str]]:
        preds = self._rule_predicates(compiled)
        return [
            [rid for rid, kind, p in preds if fact.get("kind") == kind and p(fact)]
            for fact in facts
        ]

    def run_compiled(
        self,
        compiled: CompiledRules,
        facts: Sequence[Mapping[str, Any]],
        backend: Backend = "auto",
    ) -> list[list[str]]:
        """Rule ids fired per fact, in the ruleset's rule order."""
        if backend == "auto":
            backend = "durable" if self.durable_available else "pure"
            if backend == "pure" and not self._warned_fallback:
                log.warning(
                    "durable_rules cannot be imported: using the pure-Python rule evaluator"
                )
                self._warned_fallback = True
        if backend == "pure":
            return self.run_pure(compiled, facts)
        order = {rule_id: k for k, rule_id in enumerate(compiled.ruleset)}
        return [
            sorted(set(ids), key=order.__getitem__) for ids in self.run_durable(compiled, facts)
        ]

    def severity_of(
        self, compiled: CompiledRules, rule_id: str, fact: Mapping[str, Any]
    ) -> Severity:
        """First ladder step whose condition holds (pure evaluator), else the rule's default."""
        ladders = self._ladders.get(compiled.name)
        if ladders is None:
            if len(self._ladders) >= _CACHE_LIMIT:
                self._ladders.clear()
            ladders = {
                rid: [
                    (Severity(step["level"]), compile_predicate(step["when"]))
                    for step in spec["ladder"]
                ]
                for rid, spec in compiled.severity.items()
            }
            self._ladders[compiled.name] = ladders
        for level, holds in ladders[rule_id]:
            if holds(fact):
                return level
        return Severity(compiled.severity[rule_id]["default"])

    def evaluate(
        self,
        rules: Sequence[Rule],
        policy_set: PolicySet,
        findings: Sequence[Finding],
        backend: Backend = "auto",
    ) -> list[Match]:
        """Every (rule, finding) pair that fires, ordered by finding then rule."""
        compiled = compile_rules(rules, policy_set)
        by_id = {rule.id: rule for rule in rules}
        facts = [engine_fact(f) for f in findings]
        out: list[Match] = []
        for index, fired in enumerate(self.run_compiled(compiled, facts, backend)):
            for rule_id in fired:
                severity = self.severity_of(compiled, rule_id, facts[index])
                out.append(Match(by_id[rule_id], findings[index], index, severity, policy_set))
        return out


# One per process: durable's Hosts and rulesets are never freed.
ENGINE = RulesEngine()


def evaluate(
    rules: Sequence[Rule],
    policy_set: PolicySet,
    findings: Sequence[Finding],
    backend: Backend = "auto",
) -> list[Match]:
    """Every (rule, finding) pair that fires, on the process's engine."""
    return ENGINE.evaluate(rules, policy_set, findings, backend)
