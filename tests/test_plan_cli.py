"""``dataprep plan``: the printed budget, epochs and effective data match a hand computation
on a real run's stage (tokens counted here directly with the HF tokenizer)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO
from tokenizers import Tokenizer

from dataprep.api import run
from dataprep.cli import main
from dataprep.mix.settings import MixConfig

DATA = REPO / "pipelines/data/quickstart"
TOKENIZER = REPO / "pipelines/tokenizers/quickstart-bpe4k.json"
DOMAINS = {"web": "web.jsonl.gz", "code": "code.jsonl.gz", "techdocs": "docs.jsonl.gz", "misc": "fortunes.jsonl.gz"}


@pytest.fixture(scope="module")
def qs_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("plan")
    inputs = "\n".join(f"      - {{path: {DATA / f}, domain: {d}}}" for d, f in DOMAINS.items())
    pipeline = tmp / "pipeline.yaml"
    pipeline.write_text(
        f"name: plan\nseed: 3\ntokenizer: {TOKENIZER}\nstages:\n  - stage: ingest\n    inputs:\n{inputs}\n"
        "  - stage: mix\n    weights: {web: 0.4, code: 0.3, techdocs: 0.2, misc: 0.1}\n"
        "    budget_tokens: chinchilla\n    model_params: 30000\n    max_epochs: 3\n"
    )
    run(str(pipeline), output=str(tmp / "run"), executor="local")
    return tmp / "run"


def _hand_tokens(stage_dir: Path) -> dict[str, int]:
    tok = Tokenizer.from_file(str(TOKENIZER))
    counts: dict[str, int] = {}
    for part in sorted(stage_dir.glob("part-*.parquet")):
        t = pq.read_table(part, columns=["text", "domain"]).to_pydict()
        for text, domain in zip(t["text"], t["domain"]):
            counts[domain] = counts.get(domain, 0) + len(tok.encode(text, add_special_tokens=False).ids)
    return counts


def _hand_budget(n: float) -> float:
    g = (0.34 * 406.4 / (0.28 * 410.7)) ** (1 / (0.34 + 0.28))
    return (n / g) ** (0.34 / 0.28) / g


def _d_prime(u: float, d: float) -> float:
    return d if d <= u else u + u * 15.387756 * (1 - math.exp(-(d / u - 1) / 15.387756))


def test_plan_on_a_stage_prints_budget_epochs_and_warning(qs_run, capsys):
    stage = qs_run / "00-ingest"
    assert main(["plan", "--params", "7e9", "--pool", str(stage)]) == 0
    out = capsys.readouterr().out
    budget = _hand_budget(7e9)
    assert f"compute-optimal tokens for N = 7e+09: {budget:,.0f} ({budget / 7e9:.1f} per parameter" in out
    assert "rule of thumb, 20 tokens per parameter (Table 3, approach 1): 140,000,000,000" in out
    assert "tokens, exact: quickstart-bpe4k.json" in out  # the run's own tokenizer, found from run.json
    unique = _hand_tokens(stage)
    assert set(unique) == set(DOMAINS)
    total = sum(unique.values())
    for d, u in unique.items():
        w = u / total  # no --weights and no mixture yet: natural shares
        tokens = budget * w
        row = f"  {d:<16} {u:>16,.0f} {w:>7.3f} {tokens:>20,.0f} {tokens / u:>12,.2f} {_d_prime(u, tokens):>20,.0f}"
        assert row in out.splitlines()
        assert f"warning: {d} would be seen {tokens / u:,.2f} times (> 4 epochs)" in out


def test_plan_with_flops_weights_and_a_mix_pool(qs_run, capsys):
    stage = qs_run / "01-mix"
    assert main(["plan", "--params", "1e5", "--flops", "1e12", "--pool", str(stage), "--weights", "web=1,code=1"]) == 0
    out = capsys.readouterr().out
    tokens = 1e12 / (6 * 1e5)
    assert f"with C = 1e+12 FLOPs: {tokens:,.0f} tokens at N = 1e+05 (C / 6N)" in out
    report = json.loads((stage / "manifest.json").read_text())["stats"]["mix"]["domains"]
    lines = out.splitlines()
    for d, v in report.items():
        u = min(v["achieved"], v["available"])
        w = 0.5 if d in ("web", "code") else 0.0
        row = f"  {d:<16} {u:>16,.0f} {w:>7.3f} {tokens * w:>20,.0f} {tokens * w / u:>12,.2f}"
        assert any(line.startswith(row) for line in lines), row
        assert (f"warning: {d} " in out) == (tokens * w / u > 4)


def test_mix_stage_takes_a_chinchilla_budget_and_records_it(qs_run):
    report = json.loads((qs_run / "01-mix" / "manifest.json").read_text())["stats"]["mix"]
    assert report["budget"] == round(_hand_budget(3e4))
    recorded = report["chinchilla"]
    assert recorded["constants"] == {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    assert recorded["tokens"] == pytest.approx(_hand_budget(3e4)) and recorded["rule_tokens"] == 6e5
    assert report["achieved_total"] == pytest.approx(report["budget"], rel=0.02)
    with pytest.raises(ValueError, match="model_params"):
        MixConfig(budget_tokens="chinchilla")
    with pytest.raises(ValueError, match="model_params"):
        MixConfig(budget_tokens=1000, model_params=7e9)


def test_plan_without_a_pool_and_bad_input(capsys, tmp_path):
    assert main(["plan", "--params", "70e9", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["budget"]["constants"] == {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    assert plan["budget"]["rule_tokens"] == 1.4e12 and "pool" not in plan
    assert main(["plan", "--params", "7e9", "--pool", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err
