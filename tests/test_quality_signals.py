"""Signals against hand-computed values and against a direct port of datatrove's loops."""

from __future__ import annotations

from collections import Counter

import polars as pl
import pytest

from dataprep.quality.rules import stop_words
from dataprep.quality.signals import CONTRACTION, SIGNALS, WORD_PATTERN, compute_signals


def words(text: str) -> list[str]:
    return pl.Series([text]).str.replace_all(CONTRACTION, "$1 $2").str.extract_all(WORD_PATTERN)[0].to_list()


def one(text: str) -> dict:
    return compute_signals([text], stop_words()).row(0, named=True)


def test_word_splitting_follows_spacy_conventions() -> None:
    assert words("Don't stop, it's e.g. 3.5 km away (well-known) U.S. end...") == [
        "Do",
        "n't",
        "stop",
        ",",
        "it",
        "'s",
        "e.g.",
        "3.5",
        "km",
        "away",
        "(",
        "well",
        "-",
        "known",
        ")",
        "U.S.",
        "end",
        "...",
    ]
    # code keeps inner punctuation, as spaCy does; a URL stays one word
    assert words("f(x[1]) see https://a.org/x?y=1.") == ["f(x[1", "]", ")", "see", "https://a.org/x?y=1."]


def test_gopher_quality_signals() -> None:
    text = "The cat and the dog.\n- one item\n- two items...\n# heading"
    s = one(text)
    w = words(text)
    assert s["q_words"] == len(w)
    assert s["q_words_non_symbol"] == sum(1 for x in w if any(c.isalnum() for c in x))
    assert s["q_bullet_lines_ratio"] == pytest.approx(2 / 4)
    assert s["q_ellipsis_lines_ratio"] == pytest.approx(1 / 4)
    assert s["q_hash_ratio"] == pytest.approx(1 / len(w))
    assert s["q_stop_words"] == 2  # "the" and "and"; "The" is not counted (case-sensitive, as datatrove)


def _find_all_duplicate(ws: list[str], n: int) -> int:
    """datatrove 0.10.1 gopher_repetition_filter.find_all_duplicate (with tuple keys)."""
    unique, repeated, idx = set(), 0, 0
    while idx < len(ws) - n + 1:
        gram = tuple(ws[idx : idx + n])
        if gram in unique:
            repeated += sum(map(len, gram))
            idx += n
        else:
            unique.add(gram)
            idx += 1
    return repeated


def _top_ngram(ws: list[str], n: int) -> int:
    grams = [" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]
    if not grams:
        return 0
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count


@pytest.mark.parametrize(
    "text",
    [
        "a b a b a b a b a b a b a b c",  # overlapping repeats: skipped n-grams are not remembered
        "one two three four five six. one two three four five six. seven eight one two three four five",
        "x y z " * 30 + "tail words here",
        "no repetition at all in this short line",
        "ties: p q r s p q r s t u v w t u v w",
    ],
)
def test_ngram_signals_match_datatrove_loops(text: str) -> None:
    s, ws = one(text), words(text)
    for n in (5, 6, 7, 8, 9, 10):
        assert s[f"q_dup_{n}gram_char_frac"] == pytest.approx(_find_all_duplicate(ws, n) / len(text)), n
    for n in (2, 3, 4):
        assert s[f"q_top_{n}gram_char_frac"] == pytest.approx(_top_ngram(ws, n) / len(text)), n


def test_batches_do_not_leak_between_documents() -> None:
    """N-grams never span two documents, and a batch gives the same values as one by one."""
    texts = ["alpha beta gamma delta epsilon", "alpha beta gamma delta epsilon", "", "x\n\nx\n\nx"]
    together = compute_signals(texts, stop_words())
    alone = pl.concat([compute_signals([t], stop_words()) for t in texts])
    assert together.equals(alone)
    assert together.row(1, named=True)["q_dup_5gram_char_frac"] == 0


def test_repeated_lines_and_paragraphs() -> None:
    text = "same line\nsame line\nother\n\nsame line\nsame line\nother"
    s = one(text)
    # paragraphs: two identical -> 1 duplicate of 2; lines (split on \n+): 6 lines, 4 duplicates
    assert s["q_dup_para_frac"] == pytest.approx(1 / 2)
    assert s["q_dup_para_char_frac"] == pytest.approx(len("same line\nsame line\nother") / len(text))
    assert s["q_dup_line_frac"] == pytest.approx(4 / 6)
    assert s["q_dup_line_char_frac"] == pytest.approx((3 * len("same line") + len("other")) / len(text))


def test_c4_signals() -> None:
    good = "This is one sentence. Here is another one! And a third?\nA fourth line is here. Fifth one ends.\nshort"
    assert one(good)["q_c4_sentences"] == 5
    # a curly bracket counts only on a line C4 would keep (ends in punctuation, >= 3 words)
    assert one("x = {1: 2}\nint main() {")["q_c4_curly_bracket"] == 0
    assert one("We write {braces} in this line.")["q_c4_curly_bracket"] == 1
    assert one("Lorem ipsum dolor sit amet.")["q_c4_lorem_ipsum"] == 1
    # lines mentioning javascript or cookie policies are dropped before counting sentences
    assert (
        one("Enable JavaScript to view this page. It is required.\nWe use cookies. Really we do.")["q_c4_sentences"]
        == 0
    )


def test_empty_and_whitespace_documents_have_finite_signals() -> None:
    frame = compute_signals(["", "   \n\n  ", "word"], stop_words())
    assert frame.columns == list(SIGNALS)
    assert frame.null_count().sum_horizontal().item() == 0
    assert not any(frame.select(pl.col(pl.Float64).is_nan().any()).row(0))
    assert all(v == 0 for v in frame.row(0)[1:] if isinstance(v, float))
