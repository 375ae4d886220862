"""Captioning metrics computed exactly as the COCO caption evaluation (pycocoevalcap) computes them.

Published audio-captioning results (Clotho, AudioCaps) are reported with pycocoevalcap, so every
quirk that moves a number is reproduced on purpose:

- BLEU-n: clipped n-gram counts against the per-n-gram maximum over references, the reference
  length *closest* to the candidate (ties -> the shorter one), the corpus score from summed counts
  (not the mean of sentence scores), and the 1e-15 / 1e-9 guards that keep per-clip scores finite.
- ROUGE-L: LCS-based F-measure with beta = 1.2, using the best precision and the best recall over
  the references independently; the corpus score is the mean over clips.
- CIDEr-D (reported as ``CIDEr``): TF-IDF n-gram vectors (n = 1..4) with document frequencies over
  the references of the clips being evaluated, candidate counts clipped by the reference counts, a
  Gaussian length penalty with sigma = 6 on the difference in *bigram* counts, times 10.
- METEOR 1.5 runs the jar shipped in pycocoevalcap's wheel (``-l en -norm``) when Java and the
  wheel are present; SPICE runs only if its Stanford CoreNLP jars have been installed next to it.
  A metric that cannot run is reported as ``None`` with a reason instead of failing the evaluation.

All metrics see captions after :func:`auralign.evaluation.text_normalize.coco_tokenize`, which
reproduces the PTB tokenisation pycocoevalcap applies to both candidates and references.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from auralign.errors import AuralignError
from auralign.evaluation.text_normalize import coco_tokenize

BLEU_METRICS = ("BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4")
CAPTION_METRICS = (*BLEU_METRICS, "METEOR", "ROUGE_L", "CIDEr", "SPICE", "SPIDEr")

NGram = tuple[str, ...]


class MetricUnavailable(Exception):
    """A metric cannot run in this environment (missing Java, jar or model files)."""


@dataclass
class CaptionScores:
    """Corpus-level and per-clip scores; ``unavailable`` maps a metric that could not run to why."""

    corpus: dict[str, float | None]
    per_clip: dict[str, dict[str, float]]
    unavailable: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**self.corpus, "unavailable": dict(self.unavailable)}


# ---------------------------------------------------------------------------------------------
# n-gram helpers


def _ngram_counts(words: Sequence[str], max_n: int) -> Counter[NGram]:
    counts: Counter[NGram] = Counter()
    for n in range(1, max_n + 1):
        for start in range(len(words) - n + 1):
            counts[tuple(words[start : start + n])] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# BLEU

_BLEU_TINY = 1e-15  # keeps a zero match count from producing log(0) / 0 ** (1/n) problems
_BLEU_SMALL = 1e-9  # keeps an empty candidate from dividing by zero


@dataclass
class _BleuCounts:
    correct: list[int]
    guess: list[int]
    candidate_length: int
    reference_length: int


def _closest_reference_length(candidate_length: int, reference_lengths: Sequence[int]) -> int:
    return min((abs(length - candidate_length), length) for length in reference_lengths)[1]


def _bleu_counts(candidate: str, references: Sequence[str], max_n: int) -> _BleuCounts:
    words = candidate.split()
    max_reference_counts: Counter[NGram] = Counter()
    for reference in references:
        max_reference_counts |= _ngram_counts(reference.split(), max_n)
    correct = [0] * max_n
    for ngram, count in _ngram_counts(words, max_n).items():
        correct[len(ngram) - 1] += min(count, max_reference_counts[ngram])
    return _BleuCounts(
        correct=correct,
        guess=[max(0, len(words) - k) for k in range(max_n)],
        candidate_length=len(words),
        reference_length=_closest_reference_length(len(words), [len(r.split()) for r in references]),
    )


def _bleu_from_counts(counts: _BleuCounts) -> list[float]:
    scores = []
    precision_product = 1.0
    for k, (correct, guess) in enumerate(zip(counts.correct, counts.guess, strict=True)):
        precision_product *= (correct + _BLEU_TINY) / (guess + _BLEU_SMALL)
        scores.append(precision_product ** (1.0 / (k + 1)))
    length_ratio = (counts.candidate_length + _BLEU_TINY) / (counts.reference_length + _BLEU_SMALL)
    if length_ratio < 1:
        brevity_penalty = math.exp(1 - 1 / length_ratio)
        scores = [score * brevity_penalty for score in scores]
    return scores


def bleu(
    candidates: Mapping[str, str], references: Mapping[str, Sequence[str]], max_n: int = 4
) -> tuple[list[float], dict[str, list[float]]]:
    """BLEU-1..max_n on tokenised text: (corpus scores, per-clip scores)."""
    total = _BleuCounts([0] * max_n, [0] * max_n, 0, 0)
    per_clip = {}
    for clip_id, candidate in candidates.items():
        counts = _bleu_counts(candidate, references[clip_id], max_n)
        per_clip[clip_id] = _bleu_from_counts(counts)
        total.correct = [a + b for a, b in zip(total.correct, counts.correct, strict=True)]
        total.guess = [a + b for a, b in zip(total.guess, counts.guess, strict=True)]
        total.candidate_length += counts.candidate_length
        total.reference_length += counts.reference_length
    return _bleu_from_counts(total), per_clip


# ---------------------------------------------------------------------------------------------
# ROUGE-L

ROUGE_BETA = 1.2


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for token_a in a:
        current = [0]
        for j, token_b in enumerate(b):
            current.append(previous[j] + 1 if token_a == token_b else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l_sentence(candidate: str, references: Sequence[str]) -> float:
    """COCO's ROUGE-L of one tokenised candidate (tokens are split on single spaces, as COCO does)."""
    candidate_tokens = candidate.split(" ")
    precisions, recalls = [], []
    for reference in references:
        reference_tokens = reference.split(" ")
        lcs = _lcs_length(reference_tokens, candidate_tokens)
        precisions.append(lcs / len(candidate_tokens))
        recalls.append(lcs / len(reference_tokens))
    precision, recall = max(precisions), max(recalls)
    if precision == 0 or recall == 0:
        return 0.0
    return (1 + ROUGE_BETA**2) * precision * recall / (recall + ROUGE_BETA**2 * precision)


def rouge_l(
    candidates: Mapping[str, str], references: Mapping[str, Sequence[str]]
) -> tuple[float, dict[str, float]]:
    per_clip = {clip_id: rouge_l_sentence(c, references[clip_id]) for clip_id, c in candidates.items()}
    return _mean(per_clip.values()), per_clip


# ---------------------------------------------------------------------------------------------
# CIDEr-D


@dataclass
class _TfIdf:
    weights: list[dict[NGram, float]]  # one map per n-gram order
    norms: list[float]
    bigram_count: int  # COCO's length for the length penalty: the number of bigrams


def _tfidf(
    counts: Counter[NGram], document_frequency: Counter[NGram], log_clip_count: float, n: int
) -> _TfIdf:
    weights: list[dict[NGram, float]] = [{} for _ in range(n)]
    squared_norms = [0.0] * n
    for ngram, term_frequency in counts.items():
        order = len(ngram) - 1
        weight = term_frequency * (log_clip_count - math.log(max(1.0, document_frequency[ngram])))
        weights[order][ngram] = weight
        squared_norms[order] += weight**2
    bigram_count = sum(c for g, c in counts.items() if len(g) == 2)
    return _TfIdf(weights, [math.sqrt(s) for s in squared_norms], bigram_count)


def _cider_similarity(candidate: _TfIdf, reference: _TfIdf, sigma: float) -> list[float]:
    delta = candidate.bigram_count - reference.bigram_count
    length_penalty = math.exp(-(delta**2) / (2 * sigma**2))
    similarities = []
    for order, candidate_weights in enumerate(candidate.weights):
        reference_weights = reference.weights[order]
        value = 0.0
        for ngram, weight in candidate_weights.items():
            reference_weight = reference_weights.get(ngram, 0.0)
            value += min(weight, reference_weight) * reference_weight
        if candidate.norms[order] != 0 and reference.norms[order] != 0:
            value /= candidate.norms[order] * reference.norms[order]
        similarities.append(value * length_penalty)
    return similarities


def cider_d(
    candidates: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    n: int = 4,
    sigma: float = 6.0,
) -> tuple[float, dict[str, float]]:
    """CIDEr-D on tokenised text: (corpus mean, per-clip scores).

    Document frequencies come from the references of exactly the clips in ``candidates``, as in
    COCO, so a clip's score depends on which other clips are evaluated with it.
    """
    reference_counts = {
        clip_id: [_ngram_counts(r.split(), n) for r in references[clip_id]] for clip_id in candidates
    }
    document_frequency: Counter[NGram] = Counter()
    for counts_per_reference in reference_counts.values():
        document_frequency.update(set().union(*counts_per_reference))
    log_clip_count = math.log(len(candidates))

    per_clip = {}
    for clip_id, candidate in candidates.items():
        candidate_vector = _tfidf(_ngram_counts(candidate.split(), n), document_frequency, log_clip_count, n)
        summed = [0.0] * n
        for counts in reference_counts[clip_id]:
            reference_vector = _tfidf(counts, document_frequency, log_clip_count, n)
            similarity = _cider_similarity(candidate_vector, reference_vector, sigma)
            summed = [a + b for a, b in zip(summed, similarity, strict=True)]
        per_clip[clip_id] = sum(summed) / n / len(reference_counts[clip_id]) * 10.0
    return _mean(per_clip.values()), per_clip


# ---------------------------------------------------------------------------------------------
# Java metrics: METEOR and SPICE

METEOR_TIMEOUT_SECONDS = 600.0


def _pycocoevalcap_dir() -> Path | None:
    """Where pycocoevalcap is installed, found without importing it (it is an optional dependency)."""
    spec = importlib.util.find_spec("pycocoevalcap")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise MetricUnavailable("Java is not on PATH (the metric runs a Java jar)")
    return java


def meteor_jar() -> Path:
    """The METEOR 1.5 jar bundled with pycocoevalcap, or MetricUnavailable saying what is missing."""
    package_dir = _pycocoevalcap_dir()
    if package_dir is None:
        raise MetricUnavailable("pycocoevalcap is not installed (it ships the METEOR 1.5 jar)")
    jar = package_dir / "meteor" / "meteor-1.5.jar"
    if not jar.is_file() or not (jar.parent / "data" / "paraphrase-en.gz").is_file():
        raise MetricUnavailable(f"METEOR jar or its paraphrase table is missing under {jar.parent}")
    return jar


def _meteor_clean(text: str) -> str:
    """The jar's line protocol uses ``|||`` as a separator and one line per request."""
    return text.replace("|||", "").replace("\n", " ").replace("  ", " ")


class _MeteorProcess:
    """One METEOR jar in ``-stdio`` mode: ``SCORE`` lines give statistics, ``EVAL`` scores them."""

    def __init__(self, java: str, jar: Path, stderr: IO[bytes]) -> None:
        self._stderr = stderr
        command = [java, "-jar", "-Xmx2G", str(jar), "-", "-", "-stdio", "-l", "en", "-norm"]
        self._process = subprocess.Popen(
            command, cwd=jar.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
        )
        self._watchdog = threading.Timer(METEOR_TIMEOUT_SECONDS, self._process.kill)
        self._watchdog.start()

    def request(self, line: str, answer_lines: int = 1) -> list[str]:
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            self._process.stdin.write(line.encode("utf-8") + b"\n")
            self._process.stdin.flush()
        except BrokenPipeError as error:
            raise MetricUnavailable(f"the METEOR jar exited: {self._error_output()}") from error
        answers = [self._process.stdout.readline().decode("utf-8").strip() for _ in range(answer_lines)]
        if any(not answer for answer in answers):
            raise MetricUnavailable(f"the METEOR jar gave no answer: {self._error_output()}")
        return answers

    def _error_output(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace").strip()[-500:] or "no error output"

    def close(self) -> None:
        self._watchdog.cancel()
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.kill()
        self._process.wait()


def meteor(
    candidates: Mapping[str, str], references: Mapping[str, Sequence[str]]
) -> tuple[float, dict[str, float]]:
    """METEOR 1.5 on tokenised text via the bundled jar: (corpus score, per-clip scores).

    The corpus score is METEOR's own aggregate over the summed statistics, not a mean of clips.
    """
    java, jar = _require_java(), meteor_jar()
    with tempfile.TemporaryFile() as stderr:
        process = _MeteorProcess(java, jar, stderr)
        try:
            statistics = []
            for clip_id, candidate in candidates.items():
                cleaned_references = [_meteor_clean(r) for r in references[clip_id]]
                score_line = " ||| ".join(["SCORE", *cleaned_references, _meteor_clean(candidate)])
                statistics.extend(process.request(score_line))
            answers = process.request(" ||| ".join(["EVAL", *statistics]), answer_lines=len(statistics) + 1)
        finally:
            process.close()
    try:
        values = [float(answer) for answer in answers]
    except ValueError as error:
        raise MetricUnavailable(f"the METEOR jar answered unexpectedly: {error}") from error
    return values[-1], dict(zip(candidates, values[:-1], strict=True))


SPICE_CORENLP_JARS = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")


def spice_jar() -> Path:
    """SPICE 1.0's jar, if it and the Stanford CoreNLP jars it loads from ``lib/`` are installed."""
    package_dir = _pycocoevalcap_dir()
    if package_dir is None:
        raise MetricUnavailable("pycocoevalcap is not installed (it ships the SPICE 1.0 jar)")
    jar = package_dir / "spice" / "spice-1.0.jar"
    if not jar.is_file():
        raise MetricUnavailable(f"SPICE jar missing: {jar}")
    missing = [name for name in SPICE_CORENLP_JARS if not (jar.parent / "lib" / name).is_file()]
    if missing:
        raise MetricUnavailable(
            f"SPICE needs Stanford CoreNLP 3.6.0, which is not installed: {', '.join(missing)} missing "
            f"from {jar.parent / 'lib'} (pycocoevalcap's get_stanford_models downloads them)"
        )
    return jar


def spice(
    candidates: Mapping[str, str], references: Mapping[str, Sequence[str]]
) -> tuple[float, dict[str, float]]:
    """SPICE F-score via the SPICE 1.0 jar: (mean over clips, per-clip scores)."""
    jar = spice_jar()
    java = _require_java()
    with tempfile.TemporaryDirectory(prefix="auralign-spice-") as work_dir:
        input_path, output_path = Path(work_dir) / "input.json", Path(work_dir) / "output.json"
        rows = [
            {"image_id": clip_id, "test": candidate, "refs": list(references[clip_id])}
            for clip_id, candidate in candidates.items()
        ]
        input_path.write_text(json.dumps(rows), encoding="utf-8")
        command = [
            java,
            "-jar",
            "-Xmx8G",
            str(jar),
            str(input_path),
            "-out",
            str(output_path),
            "-subset",
            "-silent",
        ]
        result = subprocess.run(command, cwd=jar.parent, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise MetricUnavailable(f"the SPICE jar failed: {result.stderr.strip()[-500:]}")
        results = json.loads(output_path.read_text(encoding="utf-8"))
    per_clip = {str(item["image_id"]): float(item["scores"]["All"]["f"]) for item in results}
    return _mean(per_clip.values()), {clip_id: per_clip[clip_id] for clip_id in candidates}


# ---------------------------------------------------------------------------------------------
# Evaluation entry point


def _mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values)


def _metrics_to_run(metrics: Sequence[str] | None) -> list[str]:
    requested = list(CAPTION_METRICS if metrics is None else metrics)
    unknown = sorted(set(requested) - set(CAPTION_METRICS))
    if unknown:
        raise AuralignError(f"unknown caption metric(s) {unknown}; choose from {list(CAPTION_METRICS)}")
    return requested


MetricFunction = Callable[[Mapping[str, str], Mapping[str, Sequence[str]]], tuple[float, dict[str, float]]]
_SINGLE_SCORE_METRICS: dict[str, MetricFunction] = {
    "METEOR": meteor,
    "ROUGE_L": rouge_l,
    "CIDEr": cider_d,
    "SPICE": spice,
}


def _check_ids(candidates: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> None:
    if not candidates:
        raise AuralignError("no candidate captions to evaluate")
    missing = [clip_id for clip_id in candidates if clip_id not in references]
    if missing:
        raise AuralignError(f"{len(missing)} candidate id(s) have no references, e.g. {missing[:3]}")
    empty = [clip_id for clip_id in candidates if not references[clip_id]]
    if empty:
        raise AuralignError(f"{len(empty)} clip(s) have an empty reference list, e.g. {empty[:3]}")


def score_captions(
    candidates: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    metrics: Sequence[str] | None = None,
    tokenize: Callable[[str], str] | None = coco_tokenize,
) -> CaptionScores:
    """Score one candidate caption per clip against that clip's references.

    The clips evaluated are those in ``candidates`` (references of other clips are ignored, as when
    COCO's ``params['image_id']`` is set to the result ids). ``tokenize=None`` means the texts are
    already tokenised. ``metrics`` picks from :data:`CAPTION_METRICS` (default: all). A metric that
    cannot run in this environment is ``None`` in ``corpus`` with the reason in ``unavailable``.
    """
    requested = _metrics_to_run(metrics)
    _check_ids(candidates, references)
    normalise = tokenize or (lambda text: text)
    tokenised_candidates = {clip_id: normalise(c) for clip_id, c in candidates.items()}
    tokenised_references = {clip_id: [normalise(r) for r in references[clip_id]] for clip_id in candidates}

    corpus: dict[str, float | None] = {}
    per_clip: dict[str, dict[str, float]] = {clip_id: {} for clip_id in candidates}
    unavailable: dict[str, str] = {}

    if any(name in BLEU_METRICS for name in requested):
        corpus_bleu, clip_bleu = bleu(tokenised_candidates, tokenised_references)
        for k, name in enumerate(BLEU_METRICS):
            corpus[name] = corpus_bleu[k]
            for clip_id, scores in clip_bleu.items():
                per_clip[clip_id][name] = scores[k]

    needed = set(requested) | ({"CIDEr", "SPICE"} if "SPIDEr" in requested else set())
    for name, function in _SINGLE_SCORE_METRICS.items():
        if name not in needed:
            continue
        try:
            corpus[name], clip_scores = function(tokenised_candidates, tokenised_references)
        except MetricUnavailable as reason:
            corpus[name], unavailable[name] = None, str(reason)
            continue
        for clip_id, score in clip_scores.items():
            per_clip[clip_id][name] = score

    if "SPIDEr" in requested:
        _add_spider(corpus, per_clip, unavailable)
    return _only_requested(CaptionScores(corpus, per_clip, unavailable), requested)


def _add_spider(
    corpus: dict[str, float | None], per_clip: dict[str, dict[str, float]], unavailable: dict[str, str]
) -> None:
    """SPIDEr is the mean of CIDEr-D and SPICE, so it exists only when both do."""
    cider_score, spice_score = corpus.get("CIDEr"), corpus.get("SPICE")
    if cider_score is None or spice_score is None:
        corpus["SPIDEr"] = None
        missing = "SPICE" if spice_score is None else "CIDEr"
        unavailable["SPIDEr"] = f"needs {missing}, which is unavailable: {unavailable.get(missing, '')}"
        return
    corpus["SPIDEr"] = (cider_score + spice_score) / 2
    for scores in per_clip.values():
        scores["SPIDEr"] = (scores["CIDEr"] + scores["SPICE"]) / 2


def _only_requested(scores: CaptionScores, requested: Sequence[str]) -> CaptionScores:
    return CaptionScores(
        corpus={name: scores.corpus[name] for name in requested},
        per_clip={
            clip_id: {name: value for name, value in clip.items() if name in requested}
            for clip_id, clip in scores.per_clip.items()
        },
        unavailable={name: reason for name, reason in scores.unavailable.items() if name in requested},
    )


# ---------------------------------------------------------------------------------------------
# JSONL loading


def _read_jsonl_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise AuralignError(f"{path}: cannot read: {error.strerror or error}") from error
    rows = []
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise AuralignError(f"{path}:{line_number}: not valid JSON: {error.msg}") from error
        if not isinstance(row, dict):
            raise AuralignError(f"{path}:{line_number}: expected a JSON object, got {type(row).__name__}")
        rows.append((line_number, row))
    return rows


def _row_id(path: Path, line_number: int, row: dict[str, Any], seen: set[str]) -> str:
    """The clip id as a string (ids may be written as JSON strings or integers)."""
    clip_id = row.get("id")
    if isinstance(clip_id, bool) or not isinstance(clip_id, str | int) or clip_id == "":
        raise AuralignError(f"{path}:{line_number}: 'id' must be a non-empty string or an integer")
    clip_id = str(clip_id)
    if clip_id in seen:
        raise AuralignError(f"{path}:{line_number}: duplicate id {clip_id!r}")
    seen.add(clip_id)
    return clip_id


def load_candidates_jsonl(
    path: str | Path, references: Mapping[str, Sequence[str]] | None = None
) -> dict[str, str]:
    """Rows ``{"id": ..., "caption": "..."}`` -> {id: caption}.

    With ``references``, an id that has no references is an error naming its line.
    """
    path = Path(path)
    candidates: dict[str, str] = {}
    seen: set[str] = set()
    for line_number, row in _read_jsonl_rows(path):
        clip_id = _row_id(path, line_number, row, seen)
        if references is not None and clip_id not in references:
            raise AuralignError(f"{path}:{line_number}: id {clip_id!r} is not in the references")
        caption = row.get("caption")
        if not isinstance(caption, str):
            raise AuralignError(f"{path}:{line_number}: 'caption' must be a string")
        candidates[clip_id] = caption
    return candidates


def load_references_jsonl(path: str | Path) -> dict[str, list[str]]:
    """Rows ``{"id": ..., "captions": ["...", ...]}`` -> {id: captions}; at least one caption each."""
    path = Path(path)
    references: dict[str, list[str]] = {}
    seen: set[str] = set()
    for line_number, row in _read_jsonl_rows(path):
        clip_id = _row_id(path, line_number, row, seen)
        captions = row.get("captions")
        if not isinstance(captions, list) or not captions or not all(isinstance(c, str) for c in captions):
            raise AuralignError(f"{path}:{line_number}: 'captions' must be a non-empty list of strings")
        references[clip_id] = captions
    return references
