"""The quality stage through the engine: signals kept as columns, reasons, manifest figures,
the rules artifact, ``dataprep rethreshold`` and a trained quality classifier."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from quality_corpus import load_corpus

from dataprep.api import read_stage, run
from dataprep.cli import main
from dataprep.config import load_pipeline
from dataprep.quality.rules import Rule, evaluate
from dataprep.quality.signals import SIGNALS

SOURCES = ("nltk_data/movie_reviews.zip", "misc/debian_fortunes.jsonl.gz", "code/thealgorithms_python.jsonl.gz")


@pytest.fixture(scope="module")
def sample(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 real documents of each of three kinds (reviews, fortunes, code) as JSONL."""
    picked: dict[str, list[str]] = {s: [] for s in SOURCES}
    for doc_id, text in load_corpus(shared_data):
        src = doc_id.rsplit(":", 1)[0]
        if src in picked and len(picked[src]) < 60:
            picked[src].append(text)
    folder = tmp_path_factory.mktemp("quality-input")
    for src, texts in picked.items():
        with gzip.open(folder / f"{Path(src).name.split('.')[0]}.jsonl.gz", "wt", encoding="utf-8") as f:
            f.writelines(json.dumps({"text": t}) + "\n" for t in texts)
    return folder


def pipeline(folder: Path, **quality: object) -> dict:
    return {
        "name": "quality-test",
        "seed": 1,
        "stages": [
            {"stage": "ingest", "shard_rows": 50, "inputs": [{"path": str(folder / "*.jsonl.gz")}]},
            {"stage": "quality", **quality},
        ],
    }


@pytest.mark.slow
def test_quality_stage_end_to_end(sample: Path, tmp_path: Path, capsys) -> None:
    result = run(
        pipeline(sample, rule_sets=["gopher_quality", "gopher_repetition"]),
        output=str(tmp_path / "run"),
        executor="local",
    )
    stage = result.stages[-1]
    kept, rejected = pl.from_arrow(read_stage(stage.dir)), pl.from_arrow(read_stage(stage.dir, rejected=True))
    assert kept.height + rejected.height == 180 and kept.height > 20 and rejected.height > 20
    assert set(SIGNALS) | {"lang", "lang_score"} <= set(kept.columns) & set(rejected.columns)
    # the reason is the first failing rule, recomputed from the stored signals; kept rows pass all
    rules = [Rule(**r) for r in json.loads((Path(stage.dir) / "rules.json").read_text())]
    assert evaluate(rejected, rules).get_column("reason").to_list() == rejected.get_column("reason").to_list()
    assert evaluate(kept, rules).get_column("reason").null_count() == kept.height
    stats = stage.manifest["stats"]
    failed = stats["rules_failed"]
    assert set(failed) == {r.name for r in rules}
    assert sum(failed.values()) >= rejected.height  # every failing rule counted, not only the first
    assert failed["language.allowed"] == (~kept["lang"].is_in(["en"])).sum() + (~rejected["lang"].is_in(["en"])).sum()
    q = stats["signal_quantiles"]
    assert set(SIGNALS) <= set(q) and q["q_words"]["p0"] <= q["q_words"]["p50"] <= q["q_words"]["p100"]

    # rethreshold: switching the length rule off moves documents from rejected to kept
    assert main(["rethreshold", stage.dir, "--set", "gopher_quality.min_doc_words=off", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["before"] == {"kept": kept.height, "rejected": rejected.height}
    would_keep = evaluate(
        pl.concat([kept, rejected], how="diagonal_relaxed"),
        [r for r in rules if r.name != "gopher_quality.min_doc_words"],
    )
    assert report["after"]["kept"] == would_keep.get_column("reason").null_count() > kept.height


@pytest.mark.slow
def test_trained_classifier_scores_and_thresholds(sample: Path, tmp_path: Path, capsys) -> None:
    model = tmp_path / "hq.bin"
    args = [
        "train-classifier",
        "--positive",
        str(sample / "movie_reviews.jsonl.gz"),
        "--negative",
        str(sample / "thealgorithms_python.jsonl.gz"),
        "-o",
        str(model),
        "--epoch",
        "25",
        "--lr",
        "0.5",
        "--cutoff",  # quantized, as by default, but ~6x cheaper than the default 100k rows
        "10000",
    ]
    assert main(args) == 0 and model.stat().st_size > 0
    assert "held-out" in capsys.readouterr().out
    cfg = pipeline(sample, rule_sets=[], language=None, classifier={"model": str(model), "min_score": 0.5})
    stage = run(cfg, output=str(tmp_path / "run"), executor="local").stages[-1]
    rows = pl.concat(
        [pl.from_arrow(read_stage(stage.dir)), pl.from_arrow(read_stage(stage.dir, rejected=True))],
        how="diagonal_relaxed",
    )
    by_domain = (
        rows.with_columns(kind=pl.col("id").str.extract(r"/([a-z_]+)\."))
        .group_by("kind")
        .agg(pl.col("q_classifier_score").mean())
    )
    scores = dict(by_domain.iter_rows())
    assert scores["movie_reviews"] > 0.8 > 0.2 > scores["thealgorithms_python"]
    assert set(rows.filter(pl.col("q_classifier_score") < 0.5).get_column("reason").to_list()) == {
        "classifier.min_score"
    }


def test_config_errors_are_clear(sample: Path) -> None:
    with pytest.raises(ValueError, match="unknown rule.*c4.min_sentence\\b"):
        from dataprep.core.contract import RunInfo
        from dataprep.stages import stage_class

        cls = stage_class("quality")
        cls(cls.config_model(rule_sets=["c4"], overrides={"c4.min_sentence": 2}), RunInfo(seed=0, base_dir="."))
    with pytest.raises(ValueError, match="rule_set"):
        load_pipeline(pipeline(sample, rule_set=["c4"]))
