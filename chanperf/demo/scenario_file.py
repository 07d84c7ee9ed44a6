"""Scenario files: read and validate a scenario YAML (shipped by name, or any path) into a Scenario."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chanperf.core.enums import InsightCategory, InsightType
from chanperf.core.errors import Problem, ValidationError
from chanperf.core.yaml_positions import YamlDocument, read_yaml
from chanperf.demo.params import FILTER_FIELDS, NOT_IN_RATES, PARAMS
from chanperf.demo.scenario import (
    AFFECTED_KEYS,
    DETECTORS,
    HEALTH_STATES,
    DiscountBucket,
    Effect,
    ParamValue,
    Planted,
    Power,
    Region,
    Scenario,
    Sku,
    Strategy,
    Where,
)

# A position inside the scenario document: keys and list indexes from the root.
Path_ = tuple[str | int, ...]

SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"


def resolve_scenario_path(name_or_path: str) -> Path:
    """A shipped scenario by name (`planted`), else a path to a YAML file."""
    shipped = SCENARIOS_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    return Path(name_or_path)


def shipped_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str) -> Scenario:
    path = resolve_scenario_path(name_or_path)
    if not path.is_file():
        raise ValidationError(
            [Problem(str(path), f"no such scenario (shipped: {', '.join(shipped_scenarios())})")]
        )
    doc, problems = read_yaml(path)
    if doc is None or problems:
        raise ValidationError(problems, f"{path}: invalid scenario")
    parser = _Parser(doc)
    scenario = parser.scenario()
    if parser.problems or scenario is None:
        raise ValidationError(parser.problems, f"{path}: invalid scenario")
    return scenario


class _Parser:
    """Walks the plain data, recording a positioned problem for each bad field."""

    def __init__(self, doc: YamlDocument):
        self.doc = doc
        self.problems: list[Problem] = []

    def fail(self, at: Path_, message: str, key: str | None = None) -> None:
        dotted = ".".join(str(p) for p in at) or "(document)"
        if key is not None:
            dotted = f"{dotted}.{key}" if at else key
        problem = self.doc.problem(at, message, key=key)
        self.problems.append(
            Problem(problem.path, message, problem.line, problem.col, field=dotted)
        )

    def mapping(self, value: Any, at: Path_, allowed: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(at, "must be a mapping")
            return {}
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                self.fail(at, f"key {k!r} must be text", key=str(k))
            elif allowed is not None and k not in allowed:
                self.fail(at, f"unknown key {k!r} (allowed: {', '.join(sorted(allowed))})", key=k)
            else:
                out[k] = v
        return out

    def number(
        self,
        m: Mapping[str, Any],
        key: str,
        at: Path_,
        low: float = 0,
        high: float | None = None,
        default: float | None = None,
    ) -> float:
        if key not in m:
            if default is not None:
                return default
            self.fail(at, f"missing required field {key!r}")
            return low
        value = m[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail((*at, key), f"must be a number, got {value!r}")
            return low
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            self.fail((*at, key), f"must be {bound}, got {value}")
        return float(value)

    def text(self, m: Mapping[str, Any], key: str, at: Path_, default: str | None = None) -> str:
        value = m.get(key, default)
        if not isinstance(value, str) or not value:
            self.fail((*at, key) if key in m else at, f"{key!r} must be non-empty text")
            return ""
        return value

    def weights(self, value: Any, at: Path_) -> tuple[tuple[str, float], ...]:
        m = self.mapping(value, at)
        if not m:
            self.fail(at, "needs at least one entry")
        out = tuple((k, self.number(m, k, at)) for k in m)
        if m and sum(w for _, w in out) <= 0:
            self.fail(at, "weights must not all be zero")
        return out

    def scenario(self) -> Scenario | None:
        top = self.mapping(self.doc.data, (), {
            "scenario", "description", "accounts", "history_months", "regions", "segments",
            "kits", "strategies", "skus", "rates", "effects", "exceptions", "health",
            "reactivation_ticket", "planted",
        })  # fmt: skip
        if not top:
            return None
        regions = tuple(
            self.region(k, v) for k, v in self.mapping(top.get("regions"), ("regions",)).items()
        )
        segments = self.weights(top.get("segments"), ("segments",))
        kits = self.weights(top.get("kits"), ("kits",))
        strategies = tuple(
            self.strategy(k, v)
            for k, v in self.mapping(top.get("strategies"), ("strategies",)).items()
        )
        skus = tuple(self.sku(k, v) for k, v in self.mapping(top.get("skus"), ("skus",)).items())
        rates = self.rates(top.get("rates"))
        names = {
            "region": {r.code for r in regions},
            "segment": {k for k, _ in segments},
            "kit": {k for k, _ in kits} | {k for r in regions for k, _ in r.kits},
            "strategy": {s.code for s in strategies},
            "sku": {s.code for s in skus},
        }
        effects = tuple(
            e for i, v in enumerate(self.sequence(top.get("effects", []), ("effects",)))
            if (e := self.effect(v, ("effects", i), names)) is not None
        )  # fmt: skip
        exc = self.mapping(top.get("exceptions"), ("exceptions",), {"policy_key", "reasons"})
        reasons = exc.get("reasons")
        if (
            not isinstance(reasons, list)
            or not reasons
            or not all(isinstance(r, str) for r in reasons)
        ):
            self.fail(("exceptions",), "'reasons' must be a non-empty list of texts")
            reasons = [""]
        health = self.health(top.get("health"))
        planted = tuple(
            self.planted(v, ("planted", i)) for i, v in enumerate(self.sequence(top.get("planted", []), ("planted",)))
        )  # fmt: skip
        return Scenario(
            name=self.text(top, "scenario", ()),
            path=self.doc.path,
            description=str(top.get("description", "")),
            accounts=int(self.number(top, "accounts", (), low=1)),
            history_months=int(self.number(top, "history_months", (), low=3, high=120)),
            regions=regions,
            segments=segments,
            kits=kits,
            strategies=strategies,
            skus=skus,
            rates=rates,
            effects=effects,
            exception_policy_key=self.text(exc, "policy_key", ("exceptions",)),
            exception_reasons=tuple(reasons),
            health=health,
            reactivation_ticket=self.number(top, "reactivation_ticket", (), low=0),
            planted=planted,
        )

    def sequence(self, value: Any, at: Path_) -> list[Any]:
        if not isinstance(value, list):
            self.fail(at, "must be a list")
            return []
        return value

    def region(self, code: str, value: Any) -> Region:
        at = ("regions", code)
        m = self.mapping(value, at, {"weight", "kits"})
        kits = self.weights(m["kits"], (*at, "kits")) if "kits" in m else ()
        return Region(code, self.number(m, "weight", at), kits)

    def strategy(self, code: str, value: Any) -> Strategy:
        at = ("strategies", code)
        m = self.mapping(value, at, {"weight", "cost", "discount_buckets"})
        buckets = (
            self.buckets(m["discount_buckets"], (*at, "discount_buckets"))
            if "discount_buckets" in m
            else ()
        )
        return Strategy(code, self.number(m, "weight", at), self.number(m, "cost", at), buckets)

    def sku(self, code: str, value: Any) -> Sku:
        at = ("skus", code)
        m = self.mapping(value, at, {"price", "cost", "weight"})
        price = self.number(m, "price", at, low=0.01)
        cost = self.number(m, "cost", at, low=0)
        if cost >= price:
            self.fail((*at, "cost"), f"cost {cost} must be below price {price}")
        return Sku(code, price, cost, self.number(m, "weight", at))

    def buckets(self, value: Any, at: Path_) -> tuple[DiscountBucket, ...]:
        out = []
        for i, item in enumerate(self.sequence(value, at)):
            m = self.mapping(item, (*at, i), {"from", "to", "weight"})
            low = self.number(m, "from", (*at, i), high=100)
            high = self.number(m, "to", (*at, i), high=100)
            if high < low:
                self.fail((*at, i), f"'to' ({high}) must not be below 'from' ({low})")
            out.append(DiscountBucket(low, high, self.number(m, "weight", (*at, i))))
        if not out or sum(b.weight for b in out) <= 0:
            self.fail(at, "needs at least one bucket with a positive weight")
        return tuple(out)

    def param_value(self, name: str, value: Any, at: Path_) -> ParamValue:
        if name == "discount_buckets":
            return self.buckets(value, at)
        spec = PARAMS[name]
        return self.number({name: value}, name, at[:-1], low=spec.low, high=spec.high)

    def rates(self, value: Any) -> tuple[tuple[str, float], ...]:
        m = self.mapping(value, ("rates",), set(PARAMS) - NOT_IN_RATES)
        for name in sorted(set(PARAMS) - NOT_IN_RATES - set(m)):
            self.fail(("rates",), f"missing rate {name!r} ({PARAMS[name].meaning})")
        out = tuple((k, float(self.param_value(k, v, ("rates", k)))) for k, v in m.items())  # type: ignore[arg-type]
        if m.get("activation_rate", 0) + m.get("failure_rate", 0) > 1:
            self.fail(("rates",), "activation_rate + failure_rate must not exceed 1")
        return out

    def effect(self, value: Any, at: Path_, names: dict[str, set[str]]) -> Effect | None:
        m = self.mapping(value, at, {"name", "where", "set"})
        where_m = self.mapping(m.get("where", {}), (*at, "where"), set(FILTER_FIELDS))
        kwargs: dict[str, Any] = {}
        for key, v in where_m.items():
            if key in names:
                if v not in names[key]:
                    known = ", ".join(sorted(names[key]))
                    self.fail((*at, "where", key), f"unknown {key} {v!r} (declared: {known})")
                kwargs[key] = v
            else:
                kwargs[key] = self.number(where_m, key, (*at, "where"), low=0)
        where = Where(**kwargs)
        values = []
        for name, v in self.mapping(m.get("set"), (*at, "set")).items():
            if name not in PARAMS:
                self.fail((*at, "set"), f"unknown parameter {name!r}", key=name)
                continue
            extra = where.fields() - PARAMS[name].fields
            if extra:
                self.fail(
                    (*at, "where"), f"{name} cannot be filtered by {', '.join(sorted(extra))}"
                )
            if name == "discount_buckets" and where.strategy is None:
                self.fail((*at, "where"), "discount_buckets needs a strategy filter")
            values.append((name, self.param_value(name, v, (*at, "set", name))))
        if not values:
            self.fail(at, "an effect must set at least one parameter")
        return Effect(str(m.get("name", f"effect {at[-1]}")), where, tuple(values))

    def health(self, value: Any) -> tuple[tuple[str, float, float], ...]:
        m = self.mapping(value, ("health",), set(HEALTH_STATES))
        out = []
        for state in HEALTH_STATES:
            pair = m.get(state)
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(x, int | float) for x in pair)
            ):
                self.fail(
                    ("health", state) if state in m else ("health",), f"{state}: needs [low, high]"
                )
                continue
            out.append((state, float(pair[0]), float(pair[1])))
        return tuple(out)

    def planted(self, value: Any, at: Path_) -> Planted:
        allowed = {"id", "detector", "insight_type", "category", "affected", "effect", "power",
                   "sample", "side_effects", "also_reports", "note"}  # fmt: skip
        m = self.mapping(value, at, allowed)
        detector = self.text(m, "detector", at)
        if detector and detector not in DETECTORS:
            self.fail((*at, "detector"), f"unknown detector {detector!r}")
        itype = self.text(m, "insight_type", at)
        if itype and itype not in {t.value for t in InsightType}:
            self.fail((*at, "insight_type"), f"unknown insight type {itype!r}")
        category = self.text(m, "category", at)
        if category and category not in {c.value for c in InsightCategory}:
            self.fail((*at, "category"), f"unknown category {category!r}")
        affected = self.mapping(m.get("affected", {}), (*at, "affected"), set(AFFECTED_KEYS))
        effect = self.mapping(m.get("effect", {}), (*at, "effect"))
        sample = self.mapping(m.get("sample", {}), (*at, "sample"))
        power = None
        if "power" in m:
            p = self.mapping(m["power"], (*at, "power"), {"test", "p1", "p2", "n_per_group"})
            test = self.text(p, "test", (*at, "power"))
            if test not in ("two_sample", "one_sample"):
                self.fail((*at, "power", "test"), "must be two_sample or one_sample")
            power = Power(
                test,
                self.number(p, "p1", (*at, "power"), high=1),
                self.number(p, "p2", (*at, "power"), high=1),
                int(self.number(p, "n_per_group", (*at, "power"), low=1)),
            )
        side = m.get("side_effects", [])
        if not isinstance(side, list) or not all(isinstance(s, str) for s in side):
            self.fail((*at, "side_effects"), "must be a list of texts")
            side = []
        also = []
        for i, spec in enumerate(self.sequence(m.get("also_reports", []), (*at, "also_reports"))):
            where = (*at, "also_reports", i)
            spec_map = self.mapping(spec, where, {"rule_id", "region", "segment"})
            self.text(spec_map, "rule_id", where)
            also.append(tuple((k, str(v)) for k, v in spec_map.items()))
        return Planted(
            id=self.text(m, "id", at),
            detector=detector,
            insight_type=itype,
            category=category,
            affected=tuple((k, str(v)) for k, v in affected.items()),
            effect=tuple((k, self.number(effect, k, (*at, "effect"), low=-1e12)) for k in effect),
            power=power,
            sample=tuple((k, int(self.number(sample, k, (*at, "sample")))) for k in sample),
            side_effects=tuple(side),
            also_reports=tuple(also),
            note=str(m.get("note", "")),
        )
