"""pt-BR template pieces: lists, the derived {scope} and the label filter."""

from __future__ import annotations

from chanperf.rules.templates import render_text, template_problems


def policy_get(name: str) -> object:
    return {"policy.strategy.priority_regions": ["R1", "R2"]}[name]


def test_policy_lists_read_as_text():
    assert render_text("({policy.strategy.priority_regions})", {}, policy_get) == "(R1, R2)"


def test_scope_names_region_and_segment_or_the_whole_channel():
    text = "recorte: {scope}"
    assert render_text(text, {"region": "R1", "segment": "S"}, policy_get) == (
        "recorte: região R1, segmento S"
    )
    assert render_text(text, {"segment": "S", "region": None}, policy_get) == "recorte: segmento S"
    assert render_text(text, {}, policy_get) == "recorte: canal inteiro"
    assert template_problems(text, {"region": str}, policy_get) == []


def test_label_filter_translates_codes_and_passes_unknown_ones_through():
    values = {"dimension": "segment", "metric": "win_rate", "other": "XYZ"}
    assert render_text(
        "{dimension:label} / {metric:label} / {other:label}", values, policy_get
    ) == ("segmento / taxa de sucesso da reativação / XYZ")
