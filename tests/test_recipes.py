"""Every recipe in pipelines/recipes runs as it is on a small real sample (``inputs=``, as
``--input`` does), has the stages docs/recipes.md describes, and verifies; the C4 and Gopher
recipes' rules decide like datatrove's filters of the same name on the agreement sample."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from conftest import REPO
from quality_corpus import datatrove_sample
from test_quality_agreement import MIN_AGREEMENT

from dataprep.api import run, verify_run
from dataprep.config import load_pipeline
from dataprep.quality.classifier import train
from dataprep.quality.rules import evaluate
from dataprep.stages.quality import resolve_rules

RECIPES = REPO / "pipelines" / "recipes"
STAGES = {
    "c4": ["ingest", "quality", "line_dedup"],
    "gopher": ["ingest", "quality", "dedup", "decontaminate"],
    "refinedweb": ["ingest", "quality", "dedup", "substring_dedup"],
    "fineweb": ["ingest", "quality", "dedup", "pii"],
    "dclm": ["ingest", "quality", "dedup", "line_dedup", "quality"],
    "llama_mixture": ["ingest", "mix"],
}
WEB = [  # real Common Crawl text (CCNet head documents) and real HTML captures in WARC
    "corpus/web/dolma-tests/cc_en_head-0091.jsonl.gz",
    "corpus/web/dolma-tests/cc_en_head-0174.jsonl.gz",
    "corpus/web/dolma-tests/sample-0000.warc.gz",
]


def test_every_recipe_is_listed():
    assert sorted(p.stem for p in RECIPES.glob("*.yaml")) == sorted(STAGES)


def _check(result, name: str) -> dict[str, dict]:
    assert [s.dir.rsplit("/", 1)[-1].split("-", 1)[1] for s in result.stages] == STAGES[name]
    assert verify_run(str(result.output_dir)) == []
    manifests = {Path(s.dir).name: json.loads((Path(s.dir) / "manifest.json").read_text()) for s in result.stages}
    first = manifests[min(manifests)]
    assert first["counts"]["out"] > 0, "the sample reached the recipe"
    return manifests


@pytest.mark.slow
@pytest.mark.parametrize("name", ["c4", "gopher", "refinedweb", "fineweb"])
def test_web_recipe_runs_on_a_sample(name, shared_data, tmp_path):
    inputs = [str(shared_data / p) for p in WEB]
    result = run(str(RECIPES / f"{name}.yaml"), output=str(tmp_path / name), inputs=inputs, executor="local")
    manifests = _check(result, name)
    ingest = manifests["00-ingest"]
    assert {e["path"].rsplit("/", 1)[-1] for e in ingest["inputs"]} >= {"sample-0000.warc.gz"}
    quality = manifests["01-quality"]
    assert quality["counts"]["in"] > 0 and quality["counts"]["rejected"] > 0  # the rules did something


@pytest.mark.slow
def test_dclm_recipe_runs_with_a_classifier_given_by_path(shared_data, tmp_path):
    """DCLM's fastText weights are not available offline; a classifier trained here on real
    text (technical docs vs fortunes) stands in for them, given by path as a user would."""

    def texts(rel: str, n: int) -> list[str]:
        with gzip.open(shared_data / rel, "rt", encoding="utf-8") as f:
            return [json.loads(line)["text"] for _, line in zip(range(n), f)]

    model = tmp_path / "standin.bin"
    train(
        texts("corpus/techdocs/python3.11-doc_rst_sources.jsonl.gz", 300),
        texts("corpus/misc/debian_fortunes.jsonl.gz", 1500),
        model,
        cutoff=10_000,  # still quantized, as a user's would be; the default's 100k rows cost ~100 CPU s
    )
    raw = yaml.safe_load((RECIPES / "dclm.yaml").read_text())
    assert raw["stages"][4]["classifier"]["model"].endswith("openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train.bin")
    raw["stages"][4]["classifier"]["model"] = str(model)
    inputs = [str(shared_data / p) for p in WEB]
    result = run(raw, output=str(tmp_path / "dclm"), inputs=inputs, base_dir=str(RECIPES), executor="local")
    manifests = _check(result, "dclm")
    assert "q_classifier_score" in manifests["04-quality"]["stats"]["signal_quantiles"]


@pytest.mark.slow
def test_llama_mixture_recipe_keeps_table_1_shares_and_epoch_caps(shared_data, tmp_path):
    """The pools: one real sample per LLaMA source, ingested with its domain, as a user's
    processed sources would be; the recipe reads their Parquet shards."""
    corpus = shared_data / "corpus"
    pools = run(
        {
            "name": "pools",
            "stages": [
                {
                    "stage": "ingest",
                    "inputs": [
                        {"path": str(corpus / "web/dolma-tests/cc_en_head-0091.jsonl.gz"), "domain": "cc"},
                        {"path": str(corpus / "web/dolma-tests/cc_en_head-0174.jsonl.gz"), "domain": "c4"},
                        {"path": str(corpus / "code/thealgorithms_c.jsonl.gz"), "domain": "github"},
                        {
                            "path": str(
                                corpus / "wiki/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
                            ),
                            "format": "mediawiki",
                            "domain": "wikipedia",
                        },
                        {
                            "path": str(corpus / "books/gitenberg/pg1*.txt.gz"),
                            "format": "text",
                            "domain": "books",
                            "options": {"encoding": "latin-1"},  # some Gutenberg e-texts are not UTF-8
                        },
                        {
                            "path": str(corpus / "science/s2orc/s2orc_metadata_sample.jsonl.gz"),
                            "domain": "arxiv",
                            "fields": {"text": "abstract"},
                        },
                        {
                            "path": str(corpus / "stackexchange/coffee.stackexchange.Posts.xml.gz"),
                            "domain": "stackexchange",
                        },
                    ],
                }
            ],
        },
        output=str(tmp_path / "pools"),
        executor="local",
    )
    shards = sorted(str(p) for p in Path(pools.stages[0].dir).glob("part-*.parquet"))
    result = run(str(RECIPES / "llama_mixture.yaml"), output=str(tmp_path / "llama"), inputs=shards, executor="local")
    manifests = _check(result, "llama_mixture")
    recipe = yaml.safe_load((RECIPES / "llama_mixture.yaml").read_text())["stages"][1]
    report = manifests["01-mix"]["stats"]["mix"]["domains"]
    assert set(report) == set(recipe["weights"])
    for d, w in recipe["weights"].items():
        assert report[d]["target_weight"] == pytest.approx(w)  # Table 1 shares, exactly, in the plan
        assert report[d]["epochs"] <= recipe["max_epochs_per_domain"][d] + 1e-9  # never past Table 1's epochs
    assert max(v["epochs"] / recipe["max_epochs_per_domain"][d] for d, v in report.items()) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def agreement(shared_data: Path) -> pl.DataFrame:
    return datatrove_sample(shared_data)


@pytest.mark.parametrize(("name", "filters"), [("c4", ["c4"]), ("gopher", ["gopher_quality", "gopher_repetition"])])
def test_recipe_rules_agree_with_datatrove(agreement, name, filters):
    """The recipe's own rules (its rule sets and overrides; language ID aside, which datatrove's
    C4QualityFilter / GopherQualityFilter + GopherRepetitionFilter do not do) against datatrove."""
    pipe = load_pipeline(RECIPES / f"{name}.yaml")
    quality = next(s for s in pipe.stages if s.name == "quality")
    rules = resolve_rules(quality.config.model_copy(update={"language": None}), pipe.run_info)
    assert {r.name.split(".")[0] for r in rules} == set(filters)
    kept = evaluate(agreement, rules).get_column("reason").is_null()
    expected = pl.all_horizontal([agreement.get_column(f"{f}_keep") for f in filters]).alias("keep")
    expected = agreement.select(expected).to_series()
    assert 0.1 < float(expected.mean()) < 0.9
    assert float((kept == expected).mean()) >= MIN_AGREEMENT
