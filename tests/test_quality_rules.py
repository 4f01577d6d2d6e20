"""Rule sets: loading, overrides, first failing reason, every failure counted."""

from __future__ import annotations

import polars as pl
import pytest

from dataprep.quality.rules import (
    FILTERS_DIR,
    Rule,
    apply_overrides,
    evaluate,
    failure_counts,
    load_rules,
    rethreshold,
    rule_set_path,
)
from dataprep.quality.signals import SIGNALS

BUILT_IN = ("gopher_quality", "gopher_repetition", "c4", "fineweb")


@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_rule_sets_use_known_signals_and_cite_sources(name: str) -> None:
    rules = load_rules(rule_set_path(name))
    assert rules and all(r.name.startswith(f"{name}.") and r.signal in SIGNALS for r in rules)
    text = (FILTERS_DIR / f"{name}.yaml").read_text()
    # every rule line carries a comment citing where its threshold comes from
    assert text.count("- name:") == sum("- name:" in line and "#" in line for line in text.splitlines())
    assert "arXiv" in text or "JMLR" in text


def test_published_thresholds() -> None:
    rules = {r.name: r for name in BUILT_IN for r in load_rules(rule_set_path(name))}
    assert rules["gopher_quality.min_doc_words"].min == 50
    assert rules["gopher_quality.max_symbol_word_ratio"].max == 0.1
    assert rules["gopher_repetition.dup_10gram"].max == 0.1
    assert rules["gopher_repetition.top_2gram"].max == 0.2
    assert rules["c4.min_sentences"].min == 5


def test_first_failing_rule_is_the_reason_and_every_failure_is_counted() -> None:
    rules = [
        Rule(name="s.a", signal="x", min=1),
        Rule(name="s.b", signal="y", max=0),
        Rule(name="s.c", signal="l", allowed=("en",)),
    ]
    signals = pl.DataFrame(
        {"x": [0.0, 2.0, 0.0, float("nan")], "y": [1.0, 1.0, 0.0, 0.0], "l": ["de", "en", "en", "en"]}
    )
    decisions = evaluate(signals, rules)
    assert decisions.get_column("reason").to_list() == ["s.a", "s.b", "s.a", None]  # NaN passes, as in datatrove
    assert failure_counts(decisions.drop("reason")) == {"s.a": 2, "s.b": 2, "s.c": 1}


def test_overrides_change_or_switch_off_rules() -> None:
    rules = load_rules(rule_set_path("c4"))
    changed = apply_overrides(rules, {"c4.min_sentences": 3, "c4.curly_bracket": None})
    assert [r.name for r in changed] == ["c4.lorem_ipsum", "c4.min_sentences"]
    assert changed[1].min == 3
    with pytest.raises(ValueError, match="unknown rule.*c4.min_sentence\\b.*known rules: c4.lorem_ipsum"):
        apply_overrides(rules, {"c4.min_sentence": 3})


def test_unknown_rule_set_lists_the_built_in_ones() -> None:
    with pytest.raises(ValueError, match="unknown rule set 'gopher'.*c4, fineweb, gopher_quality"):
        rule_set_path("gopher")


def test_a_rule_needs_exactly_one_bound() -> None:
    with pytest.raises(ValueError, match="exactly one of min, max, allowed"):
        Rule(name="s.a", signal="x", min=1, max=2)


def test_rethreshold_report() -> None:
    old = [Rule(name="s.a", signal="x", min=5)]
    signals = pl.DataFrame({"x": [1.0, 4.0, 6.0, 9.0]})
    report = rethreshold(signals, old, apply_overrides(old, {"s.a": 3}))
    assert report["before"] == {"kept": 2, "rejected": 2}
    assert report["after"] == {"kept": 3, "rejected": 1}
    assert (report["newly_kept"], report["newly_rejected"]) == (1, 0)
    assert report["reasons_after"] == {"s.a": 1}
