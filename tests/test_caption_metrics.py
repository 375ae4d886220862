"""Caption metrics and tokenisation against pycocoevalcap, the reference implementation.

Known divergences of the pure-Python tokenizer from CoreNLP 3.4.1's PTBTokenizer (checked below so
the list stays true): emoticons (``:)`` is one token ``:-rrb-`` in Java), ``'n'`` inside words
(``rock'n'roll``, ``more'n``), and an apostrophe between single capital letters (``U'A``). On the
71,653 Clotho-development and AudioCaps captions in /work/shared/data the only mismatch is one
``U'A`` caption.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auralign.errors import AuralignError
from auralign.evaluation import caption_metrics
from auralign.evaluation.caption_metrics import (
    CAPTION_METRICS,
    bleu,
    cider_d,
    load_candidates_jsonl,
    load_references_jsonl,
    rouge_l,
    rouge_l_sentence,
    score_captions,
)
from auralign.evaluation.text_normalize import coco_tokenize, ptb_tokenize

FIXTURES = Path(__file__).parent / "fixtures" / "captions"
FAST_METRICS = ("BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4", "ROUGE_L", "CIDEr")

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed")


@pytest.fixture(scope="module")
def candidates() -> dict[str, str]:
    return load_candidates_jsonl(FIXTURES / "candidates.jsonl")


@pytest.fixture(scope="module")
def references() -> dict[str, list[str]]:
    return load_references_jsonl(FIXTURES / "references.jsonl")


def java_ptb_tokenize(sentences: dict[str, list[str]]) -> dict[str, list[str]]:
    """pycocoevalcap's own tokenisation (CoreNLP via Java)."""
    tokenizer = pytest.importorskip("pycocoevalcap.tokenizer.ptbtokenizer").PTBTokenizer()
    return tokenizer.tokenize({key: [{"caption": s} for s in values] for key, values in sentences.items()})


@pytest.fixture(scope="module")
def coco_tokenised(candidates, references) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(res, gts) in pycocoevalcap's format, tokenised by pycocoevalcap."""
    if shutil.which("java") is None:
        pytest.skip("java is not installed")
    res = java_ptb_tokenize({key: [caption] for key, caption in candidates.items()})
    gts = java_ptb_tokenize(references)
    return res, gts


# --- tokenizer ---------------------------------------------------------------------------------


@needs_java
def test_tokenizer_matches_java_ptbtokenizer_on_all_fixture_sentences(candidates, references) -> None:
    cases = (FIXTURES / "tokenizer_cases.txt").read_text(encoding="utf-8").splitlines()
    sentences = [*candidates.values(), *(r for refs in references.values() for r in refs), *cases]
    expected = java_ptb_tokenize({str(i): [s] for i, s in enumerate(sentences)})
    mismatches = [
        (s, expected[str(i)][0], coco_tokenize(s))
        for i, s in enumerate(sentences)
        if coco_tokenize(s) != expected[str(i)][0]
    ]
    assert mismatches == []


@needs_java
def test_documented_tokenizer_divergences_still_hold() -> None:
    divergent = {"smile :) now": "smile :-rrb- now", "rock'n'roll": "rock 'n' roll", "U'A clock": "u a clock"}
    expected = java_ptb_tokenize({s: [s] for s in divergent})
    for sentence, java_output in divergent.items():
        assert expected[sentence][0] == java_output
        assert coco_tokenize(sentence) != java_output


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("A dog's barking, don't stop!", ["a", "dog", "'s", "barking", ",", "do", "n't", "stop", "!"]),
        ("High-pitched beeps (twice).", ["high-pitched", "beeps", "-lrb-", "twice", "-rrb-", "."]),
        ("I cannot hear it...", ["i", "can", "not", "hear", "it", "..."]),
        ("Mr. Smith at 3.5 km/h", ["mr.", "smith", "at", "3.5", "km/h"]),
    ],
)
def test_ptb_tokenize_examples(text: str, tokens: list[str]) -> None:
    assert ptb_tokenize(text) == tokens


def test_coco_tokenize_drops_punctuation_but_keeps_lowercased_brackets() -> None:
    # COCO's removal list has "-LRB-" in upper case, so the lowercased bracket tokens survive.
    assert (
        coco_tokenize('A "loud" bang -- then (silence); done.') == "a loud bang then -lrb- silence -rrb- done"
    )


# --- agreement with pycocoevalcap --------------------------------------------------------------


def test_bleu_matches_pycocoevalcap(coco_tokenised) -> None:
    res, gts = coco_tokenised
    expected_corpus, expected_clips = (
        pytest.importorskip("pycocoevalcap.bleu.bleu").Bleu(4).compute_score(gts, res, verbose=0)
    )
    corpus, per_clip = bleu({k: v[0] for k, v in res.items()}, gts)
    assert corpus == pytest.approx(expected_corpus, abs=1e-6)
    for n in range(4):
        assert [per_clip[k][n] for k in gts] == pytest.approx(expected_clips[n], abs=1e-6)


def test_rouge_l_matches_pycocoevalcap(coco_tokenised) -> None:
    res, gts = coco_tokenised
    expected_corpus, expected_clips = (
        pytest.importorskip("pycocoevalcap.rouge.rouge").Rouge().compute_score(gts, res)
    )
    corpus, per_clip = rouge_l({k: v[0] for k, v in res.items()}, gts)
    assert corpus == pytest.approx(expected_corpus, abs=1e-6)
    assert [per_clip[k] for k in gts] == pytest.approx(list(expected_clips), abs=1e-6)


def test_cider_d_matches_pycocoevalcap(coco_tokenised) -> None:
    res, gts = coco_tokenised
    expected_corpus, expected_clips = (
        pytest.importorskip("pycocoevalcap.cider.cider").Cider().compute_score(gts, res)
    )
    corpus, per_clip = cider_d({k: v[0] for k, v in res.items()}, gts)
    assert corpus == pytest.approx(expected_corpus, abs=1e-6)
    assert [per_clip[k] for k in gts] == pytest.approx(list(expected_clips), abs=1e-6)


def test_score_captions_with_own_tokenizer_equals_scores_on_java_tokenised_text(
    candidates, references, coco_tokenised
) -> None:
    res, gts = coco_tokenised
    ours = score_captions(candidates, references, metrics=FAST_METRICS)
    on_java_tokens = score_captions(
        {k: v[0] for k, v in res.items()}, gts, metrics=FAST_METRICS, tokenize=None
    )
    assert ours.corpus == on_java_tokens.corpus
    assert ours.per_clip == on_java_tokens.per_clip


@pytest.mark.slow
@needs_java
def test_meteor_matches_pycocoevalcap(coco_tokenised) -> None:
    res, gts = coco_tokenised
    expected_corpus, expected_clips = (
        pytest.importorskip("pycocoevalcap.meteor.meteor").Meteor().compute_score(gts, res)
    )
    scores = score_captions({k: v[0] for k, v in res.items()}, gts, metrics=["METEOR"], tokenize=None)
    assert scores.unavailable == {}
    assert scores.corpus["METEOR"] == pytest.approx(expected_corpus, abs=1e-6)
    assert [scores.per_clip[k]["METEOR"] for k in gts] == pytest.approx(expected_clips, abs=1e-6)


words = st.lists(st.sampled_from(["a", "dog", "barks", "the", "car", "loud", "rain"]), min_size=1, max_size=9)


@settings(max_examples=40, deadline=None)
# Candidates may be empty: COCO's ROUGE-L splits on single spaces, so "" is one empty token.
@given(
    st.lists(st.tuples(words | st.just([]), st.lists(words, min_size=1, max_size=4)), min_size=1, max_size=5)
)
def test_pure_python_metrics_match_pycocoevalcap_on_random_corpora(clips) -> None:
    pytest.importorskip("pycocoevalcap")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    res = {str(i): [" ".join(candidate)] for i, (candidate, _) in enumerate(clips)}
    gts = {str(i): [" ".join(r) for r in refs] for i, (_, refs) in enumerate(clips)}
    candidates = {k: v[0] for k, v in res.items()}
    assert bleu(candidates, gts)[0] == pytest.approx(Bleu(4).compute_score(gts, res, verbose=0)[0], abs=1e-6)
    assert rouge_l(candidates, gts)[0] == pytest.approx(Rouge().compute_score(gts, res)[0], abs=1e-6)
    assert cider_d(candidates, gts)[0] == pytest.approx(Cider().compute_score(gts, res)[0], abs=1e-6)


# --- hand-computed cases -----------------------------------------------------------------------


def test_bleu_of_an_exact_match_is_one() -> None:
    corpus, per_clip = bleu({"x": "a dog barks loudly"}, {"x": ["a dog barks loudly", "rain falls"]})
    assert corpus == pytest.approx([1.0] * 4, abs=1e-6)
    assert per_clip["x"] == pytest.approx([1.0] * 4, abs=1e-6)


def test_bleu_of_a_candidate_sharing_no_words_is_zero() -> None:
    corpus, _ = bleu({"x": "birds sing"}, {"x": ["a dog barks"]})
    assert corpus == pytest.approx([0.0] * 4, abs=1e-6)


def test_bleu_uses_the_closest_reference_length_for_the_brevity_penalty() -> None:
    # 2 words vs references of 3 and 6 words: the closest is 3, so BP = exp(1 - 3/2).
    corpus, _ = bleu({"x": "dog barks"}, {"x": ["a dog barks", "a big dog barks very loudly"]})
    assert corpus[0] == pytest.approx(math.exp(1 - 3 / 2), abs=1e-6)


def test_rouge_l_hand_worked_lcs() -> None:
    # LCS("a b c d", "a x c d e") = "a c d" = 3 -> P = 3/4, R = 3/5, F_beta with beta = 1.2.
    precision, recall, beta_squared = 3 / 4, 3 / 5, 1.2**2
    expected = (1 + beta_squared) * precision * recall / (recall + beta_squared * precision)
    assert rouge_l_sentence("a b c d", ["a x c d e"]) == pytest.approx(expected)
    assert expected == pytest.approx(0.653571, abs=1e-6)


def test_cider_d_hand_worked_identical_captions() -> None:
    # Each candidate equals its only reference: unigram and bigram cosines are 1, the empty 3- and
    # 4-gram vectors contribute 0, so CIDEr-D = 10 * (1 + 1 + 0 + 0) / 4 = 5.
    corpus, per_clip = cider_d(
        {"x": "dog barks", "y": "rain falls"}, {"x": ["dog barks"], "y": ["rain falls"]}
    )
    assert corpus == pytest.approx(5.0)
    assert per_clip == pytest.approx({"x": 5.0, "y": 5.0})


def test_cider_d_of_a_candidate_sharing_no_words_is_zero() -> None:
    _, per_clip = cider_d({"x": "birds sing", "y": "rain falls"}, {"x": ["a dog barks"], "y": ["rain falls"]})
    assert per_clip["x"] == 0.0


# --- unavailable metrics and the evaluation entry point ----------------------------------------


def test_spice_without_corenlp_is_null_with_a_reason_and_does_not_stop_the_evaluation(
    tmp_path, monkeypatch, candidates, references
) -> None:
    (tmp_path / "spice" / "lib").mkdir(parents=True)
    (tmp_path / "spice" / "spice-1.0.jar").write_bytes(b"")
    monkeypatch.setattr(caption_metrics, "_pycocoevalcap_dir", lambda: tmp_path)
    scores = score_captions(candidates, references, metrics=["CIDEr", "SPICE", "SPIDEr"])
    assert scores.corpus["SPICE"] is None and scores.corpus["SPIDEr"] is None
    assert "stanford-corenlp-3.6.0.jar" in scores.unavailable["SPICE"]
    assert "SPICE" in scores.unavailable["SPIDEr"]
    assert scores.corpus["CIDEr"] is not None
    assert all(set(clip) == {"CIDEr"} for clip in scores.per_clip.values())


def test_java_metrics_without_java_are_null_with_a_reason(monkeypatch, candidates, references) -> None:
    monkeypatch.setattr(caption_metrics.shutil, "which", lambda name: None)
    monkeypatch.setattr(caption_metrics, "spice_jar", lambda: Path("spice-1.0.jar"))
    scores = score_captions(candidates, references, metrics=["METEOR", "SPICE", "BLEU_4"])
    assert scores.corpus["METEOR"] is None and scores.corpus["SPICE"] is None
    assert "Java" in scores.unavailable["METEOR"] and "Java" in scores.unavailable["SPICE"]
    assert scores.corpus["BLEU_4"] is not None


def test_spider_is_the_mean_of_cider_and_spice(monkeypatch, candidates, references) -> None:
    fake_spice = lambda c, r: (0.2, dict.fromkeys(c, 0.2))  # noqa: E731
    monkeypatch.setitem(caption_metrics._SINGLE_SCORE_METRICS, "SPICE", fake_spice)
    scores = score_captions(candidates, references, metrics=["CIDEr", "SPICE", "SPIDEr"])
    assert scores.corpus["SPIDEr"] == pytest.approx((scores.corpus["CIDEr"] + 0.2) / 2)
    clip = next(iter(scores.per_clip.values()))
    assert clip["SPIDEr"] == pytest.approx((clip["CIDEr"] + 0.2) / 2)


def test_to_json_has_every_metric_and_the_reasons(monkeypatch, candidates, references) -> None:
    monkeypatch.setattr(caption_metrics.shutil, "which", lambda name: None)
    report = score_captions(candidates, references).to_json()
    assert list(report) == [*CAPTION_METRICS, "unavailable"]
    assert set(report["unavailable"]) == {"METEOR", "SPICE", "SPIDEr"}
    json.dumps(report)


def test_score_captions_rejects_unknown_metrics_and_ids_without_references(candidates, references) -> None:
    with pytest.raises(AuralignError, match="unknown caption metric"):
        score_captions(candidates, references, metrics=["BLEU"])
    with pytest.raises(AuralignError, match="no references"):
        score_captions({**candidates, "not-a-clip": "a dog"}, references, metrics=["BLEU_1"])


# --- JSONL loading -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "caption": "x"}\n{"id": "a", "caption": "y"}\n', r":2: duplicate id 'a'"),
        ('{"id": "a", "caption": "x"}\n{"id": "b", "caption": \n', r":2: not valid JSON"),
        ('{"id": "a", "text": "x"}\n', r":1: 'caption' must be a string"),
        ('["a", "x"]\n', r":1: expected a JSON object"),
        ('{"caption": "x"}\n', r":1: 'id' must be"),
    ],
)
def test_load_candidates_names_file_and_line(tmp_path, content: str, message: str) -> None:
    path = tmp_path / "candidates.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AuralignError, match=rf"candidates\.jsonl{message}"):
        load_candidates_jsonl(path)


def test_load_candidates_names_the_line_of_an_id_missing_from_the_references(tmp_path, references) -> None:
    path = tmp_path / "candidates.jsonl"
    known = next(iter(references))
    rows = [{"id": known, "caption": "a dog"}, {"id": "unknown.wav", "caption": "rain"}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    with pytest.raises(
        AuralignError, match=r"candidates\.jsonl:2: id 'unknown\.wav' is not in the references"
    ):
        load_candidates_jsonl(path, references)
    assert load_candidates_jsonl(path) == {known: "a dog", "unknown.wav": "rain"}


def test_load_references_rejects_an_empty_caption_list(tmp_path) -> None:
    path = tmp_path / "references.jsonl"
    path.write_text('{"id": 7, "captions": ["a dog"]}\n{"id": 8, "captions": []}\n', encoding="utf-8")
    with pytest.raises(AuralignError, match=r"references\.jsonl:2: 'captions' must be a non-empty list"):
        load_references_jsonl(path)


def test_loaders_read_the_fixtures_with_string_ids(candidates, references) -> None:
    assert len(candidates) == 20 and len(references) == 20
    assert set(candidates) == set(references)
    assert all(len(captions) == 5 for captions in references.values())
