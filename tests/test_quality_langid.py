"""Language ID (fastText lid.176, vendored) on the UDHR translations in nltk_data/udhr.zip.

Each translation is split into lines of at least 20 characters (articles, mostly one
sentence each); accuracy is the share of lines identified as the translation's language.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from dataprep.quality.langid import DEFAULT_MODEL, FastTextModel, identify

UDHR = {  # lid.176 code -> (file in udhr.zip, its encoding)
    "en": ("English-Latin1", "latin-1"),
    "de": ("German_Deutsch-Latin1", "latin-1"),
    "fr": ("French_Francais-Latin1", "latin-1"),
    "es": ("Spanish-Latin1", "latin-1"),
    "ru": ("Russian-UTF8", "utf-8"),
    "zh": ("Chinese_Mandarin-UTF8", "utf-8"),
}
MIN_CHARS = 20


def udhr_lines(shared_data: Path, name: str, encoding: str) -> list[str]:
    with zipfile.ZipFile(shared_data / "corpus" / "nltk_data" / "udhr.zip") as z:
        text = z.read(f"udhr/{name}").decode(encoding, errors="replace")
    lines = [line.strip() for line in text.splitlines()][:-1]  # the files are cut at 10 KB: drop the cut line
    return [line for line in lines if len(line) >= MIN_CHARS]


@pytest.fixture(scope="module")
def model() -> FastTextModel:
    return FastTextModel(DEFAULT_MODEL)


@pytest.mark.parametrize("lang", sorted(UDHR))
def test_udhr_accuracy(shared_data: Path, model: FastTextModel, lang: str) -> None:
    lines = udhr_lines(shared_data, *UDHR[lang])
    assert len(lines) >= 20
    predicted = identify(model, lines).get_column("lang")
    accuracy = float((predicted == lang).mean())
    print(f"UDHR {lang}: {accuracy:.3f} of {len(lines)} lines")
    assert accuracy >= 0.95, f"{lang}: {accuracy:.3f}; wrong: {predicted.filter(predicted != lang).to_list()[:5]}"


def test_model_is_loaded_lazily_and_pickles(model: FastTextModel) -> None:
    import pickle

    identify(model, ["warm up"])
    clone = pickle.loads(pickle.dumps(model))
    assert clone._model is None  # workers load their own copy
    frame = identify(clone, ["Das ist ein Satz auf Deutsch.\nMit zwei Zeilen."])
    assert frame.row(0) == ("de", pytest.approx(frame.item(0, "lang_score")))
    assert 0.5 < frame.item(0, "lang_score") <= 1.0


def test_missing_model_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.ftz"):
        identify(FastTextModel(tmp_path / "nope.ftz"), ["text"])
