"""`auralign eval caption-scores | caption | qa | linear-probe`: JSON conventions, metric values
against the metric functions, the first-window policy, QA scoring rules and the frozen-feature probe.

Generative models are stand-ins (a fixed rule over the question or the token count) on a tiny random
aiSFX, so these tests check the evaluation plumbing, not a model. Java is hidden from most tests
(METEOR then reports null with a reason), because one METEOR run costs tens of seconds here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn
from typer.testing import CliRunner

from auralign.backbones.aisfx import AisfxEncoder
from auralign.backbones.base import Decoding
from auralign.cli.main import app
from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow, write_manifest
from auralign.errors import AuralignError
from auralign.evaluation.caption_metrics import score_captions
from auralign.evaluation.captioning import evaluate_captioning, evaluate_qa
from backbone_factory import make_tiny_aisfx
from data_factory import tone

SAMPLE_RATE = 16000


@pytest.fixture(scope="module")
def encoder_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)  # random weights: fixed, so the probe tests do not depend on test order
    return make_tiny_aisfx(tmp_path_factory.mktemp("aisfx") / "aisfx")


@pytest.fixture(scope="module")
def encoder(encoder_folder: Path) -> AisfxEncoder:
    return AisfxEncoder.from_pretrained(encoder_folder)


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURALIGN_HOME", str(tmp_path / "home"))


def no_java(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")


class TokenCountCaptioner(nn.Module):
    """Captions a clip by how many frame tokens it was given, and remembers every call."""

    def __init__(self, audio_encoder: AisfxEncoder) -> None:
        super().__init__()
        self.audio_encoder = audio_encoder
        self.token_counts: list[int] = []
        self.instructions: list[str | None] = []

    def generate(self, tokens: torch.Tensor, mask: torch.Tensor, instruction: str | None = None,
                 decoding: Decoding | None = None) -> list[str]:
        counts = mask.sum(1).tolist()
        self.token_counts.extend(counts)
        self.instructions.extend([instruction] * len(counts))
        if instruction and instruction.lower().startswith("is"):
            return ["Yes." for _ in counts]
        if instruction:
            return ["the dog" for _ in counts]
        return [f"a dog barks {'twice' if n > 10 else 'once'}" for n in counts]


def write_tone(path: Path, seconds: float, frequency: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, SAMPLE_RATE, frequency=frequency), SAMPLE_RATE)
    return path


def run_json(args: list[str]) -> dict:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


# ---------------------------------------------------------------------------------------------- caption-scores


def caption_files(tmp_path: Path) -> tuple[Path, Path]:
    references = write_jsonl(tmp_path / "refs.jsonl", [
        {"id": "a", "captions": ["a dog barks loudly", "a dog is barking"]},
        {"id": 7, "captions": ["rain falls on the roof", "heavy rain on a roof"]},
        {"id": "c", "captions": ["a car engine starts", "an engine revs"]},
    ])
    candidates = write_jsonl(tmp_path / "cands.jsonl", [
        {"id": "a", "caption": "a dog barks"}, {"id": 7, "caption": "rain on the roof"},
        {"id": "c", "caption": "a bird sings"},
    ])
    return candidates, references


def test_caption_scores_equal_the_metric_functions_and_meteor_is_null_without_java(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_java(monkeypatch)
    candidates, references = caption_files(tmp_path)
    result = run_json(["eval", "caption-scores", "--candidates", str(candidates), "--references", str(references)])
    expected = score_captions({"a": "a dog barks", "7": "rain on the roof", "c": "a bird sings"},
                              {"a": ["a dog barks loudly", "a dog is barking"],
                               "7": ["rain falls on the roof", "heavy rain on a roof"],
                               "c": ["a car engine starts", "an engine revs"]}, metrics=["BLEU_4", "ROUGE_L", "CIDEr"])
    assert result["task"] == "caption" and result["n"] == 3
    for metric in ("BLEU_4", "ROUGE_L", "CIDEr"):
        assert result[metric] == pytest.approx(expected.corpus[metric])
    assert result["CIDEr"] > 0
    for metric in ("METEOR", "SPICE", "SPIDEr"):
        assert result[metric] is None and result["unavailable"][metric]
    assert "Java" in result["unavailable"]["METEOR"]


def test_caption_scores_text_output_names_unavailable_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_java(monkeypatch)
    candidates, references = caption_files(tmp_path)
    result = CliRunner().invoke(app, ["eval", "caption-scores", "--candidates", str(candidates),
                                      "--references", str(references)])
    assert result.exit_code == 0, result.output
    assert "CIDEr:" in result.stdout and "METEOR: unavailable" in result.stdout


def test_caption_scores_reject_a_candidate_without_references(tmp_path: Path) -> None:
    candidates, references = caption_files(tmp_path)
    with open(candidates, "a") as handle:
        handle.write(json.dumps({"id": "zzz", "caption": "extra"}) + "\n")
    result = CliRunner().invoke(app, ["eval", "caption-scores", "--candidates", str(candidates),
                                      "--references", str(references), "--json"])
    assert result.exit_code == 1
    assert "zzz" in result.output and "cands.jsonl:4" in result.output


@pytest.mark.slow
def test_caption_scores_run_meteor_with_java(tmp_path: Path) -> None:
    candidates, references = caption_files(tmp_path)
    result = run_json(["eval", "caption-scores", "--candidates", str(candidates), "--references", str(references)])
    assert 0 < result["METEOR"] < 1 and "METEOR" not in result["unavailable"]


# ---------------------------------------------------------------------------------------------- caption


def caption_manifest(tmp_path: Path) -> Path:
    rows = [
        ManifestRow(audio=write_tone(tmp_path / "audio" / "long.wav", 12.5), captions=["a dog barks twice"],
                    id="long", split="test"),
        ManifestRow(audio=write_tone(tmp_path / "audio" / "short.wav", 3.0, 880), captions=["a dog barks once"],
                    id="short", split="test"),
        ManifestRow(audio=write_tone(tmp_path / "audio" / "train.wav", 3.0), captions=["x"], id="train",
                    split="train"),
    ]
    return write_manifest(rows, tmp_path / "manifest.jsonl")


def test_eval_caption_uses_the_first_window_and_scores_against_the_manifest(
        tmp_path: Path, encoder: AisfxEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    no_java(monkeypatch)
    captioner = TokenCountCaptioner(encoder)
    monkeypatch.setattr("auralign.models.factory.load_model", lambda name: captioner)
    manifest = caption_manifest(tmp_path)
    result = run_json(["eval", "caption", "--manifest", str(manifest), "--split", "test", "--model", "fake",
                       "--no-cache"])
    assert result["n"] == 2 and result["model"] == "fake"
    cache = FeatureCache(encoder, root=tmp_path / "check")
    long_windows = cache.get(tmp_path / "audio" / "long.wav").windows()
    assert len(long_windows) == 2
    assert captioner.token_counts == [len(long_windows[0]), len(cache.get(tmp_path / "audio" / "short.wav").tokens)]
    assert captioner.instructions == [None, None]
    written = {p["id"]: p["caption"] for p in result["predictions"]}
    expected = score_captions(written, {"long": ["a dog barks twice"], "short": ["a dog barks once"]},
                              metrics=["BLEU_4", "CIDEr", "ROUGE_L"])
    for metric in ("BLEU_4", "CIDEr", "ROUGE_L"):
        assert result[metric] == pytest.approx(expected.corpus[metric])
    assert result["METEOR"] is None and "METEOR" in result["unavailable"]


def test_eval_caption_refuses_a_model_that_cannot_generate(tmp_path: Path, encoder: AisfxEncoder,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    class Embedder(nn.Module):
        audio_encoder = encoder

    monkeypatch.setattr("auralign.models.factory.load_model", lambda name: Embedder())
    result = CliRunner().invoke(app, ["eval", "caption", "--manifest", str(caption_manifest(tmp_path)), "--json"])
    assert result.exit_code == 1 and "cannot generate text" in result.output


def test_captioning_rejects_repeated_clip_ids(tmp_path: Path, encoder: AisfxEncoder) -> None:
    audio = write_tone(tmp_path / "a.wav", 2.0)
    rows = [ManifestRow(audio=audio, captions=["a"], id="same"), ManifestRow(audio=audio, captions=["b"], id="same")]
    with pytest.raises(AuralignError, match="same"):
        evaluate_captioning(TokenCountCaptioner(encoder), rows, FeatureCache(encoder, root=tmp_path / "c"))


# ---------------------------------------------------------------------------------------------- qa


def qa_rows(tmp_path: Path) -> list[ManifestRow]:
    dog = write_tone(tmp_path / "dog.wav", 2.0)
    rain = write_tone(tmp_path / "rain.wav", 2.0, 660)
    return [
        ManifestRow(audio=dog, id="1", extra={"question": "Is a dog barking?", "answer": "yes"}),
        ManifestRow(audio=dog, id="2", extra={"question": "Is a dog barking?", "answer": "no"}),  # 2nd annotator
        ManifestRow(audio=dog, id="3", extra={"question": "What animal is heard?", "answer": ["Dog", "a puppy"]}),
        ManifestRow(audio=rain, id="4", extra={"question": "Is it raining?", "answer": "yes"}),
        ManifestRow(audio=rain, id="5", extra={"question": "What falls?", "answer": "rain"}),
    ]


def test_qa_scores_each_row_and_generates_once_per_clip_and_question(tmp_path: Path, encoder: AisfxEncoder) -> None:
    model = TokenCountCaptioner(encoder)
    vocabulary = ["yes", "no", "dog", "rain"]

    def one_hot_embed(texts: list[str]) -> np.ndarray:
        return np.array([[float(word in text.split()) for word in vocabulary] + [0.01] for text in texts])

    result = evaluate_qa(model, qa_rows(tmp_path), FeatureCache(encoder, root=tmp_path / "c"),
                         text_embedder=one_hot_embed, progress=False)
    assert len(model.instructions) == 4  # rows 1 and 2 share a clip and a question
    assert [p["answer"] for p in result["predictions"]] == ["Yes.", "Yes.", "the dog", "Yes.", "the dog"]
    assert result["n"] == 5
    assert result["accuracy"] == pytest.approx(3 / 5)  # "Yes." = yes twice, "the dog" = "Dog"
    assert result["n_binary"] == 3 and result["binary_accuracy"] == pytest.approx(2 / 3)
    assert result["balanced_binary_accuracy"] == pytest.approx((1.0 + 0.0) / 2)
    # answers matched into {dog, no, rain, yes}: yes, yes, dog, yes, dog -> rows 1, 3, 4 right
    assert result["text_matching_accuracy"] == pytest.approx(3 / 5)
    assert result["unavailable"] == {}


def test_qa_without_a_text_encoder_reports_why_text_matching_is_missing(tmp_path: Path,
                                                                        encoder: AisfxEncoder) -> None:
    rows = [row for row in qa_rows(tmp_path) if row.id in ("3", "5")]
    result = evaluate_qa(TokenCountCaptioner(encoder), rows, FeatureCache(encoder, root=tmp_path / "c"),
                         progress=False)
    assert result["binary_accuracy"] is None and "yes/no" in result["unavailable"]["binary_accuracy"]
    assert result["text_matching_accuracy"] is None and "text encoder" in result["unavailable"]["text_matching_accuracy"]


def test_eval_qa_cli_reads_question_and_answer_columns(tmp_path: Path, encoder: AisfxEncoder,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("auralign.models.factory.load_model", lambda name: TokenCountCaptioner(encoder))
    manifest = tmp_path / "qa.csv"
    write_tone(tmp_path / "dog.wav", 2.0)
    manifest.write_text("audio,question,answer\ndog.wav,Is a dog barking?,yes\ndog.wav,What barks?,dog\n")
    result = run_json(["eval", "qa", "--manifest", str(manifest), "--no-cache"])
    assert result["task"] == "qa" and result["n"] == 2
    assert result["accuracy"] == pytest.approx(1.0) and result["binary_accuracy"] == pytest.approx(1.0)


def test_qa_row_without_answer_is_a_user_error(tmp_path: Path, encoder: AisfxEncoder) -> None:
    rows = [ManifestRow(audio=write_tone(tmp_path / "a.wav", 2.0), id="x", extra={"question": "What?"})]
    with pytest.raises(AuralignError, match="answer"):
        evaluate_qa(TokenCountCaptioner(encoder), rows, FeatureCache(encoder, root=tmp_path / "c"))


# ---------------------------------------------------------------------------------------------- linear-probe


def probe_manifest(tmp_path: Path) -> Path:
    """Low tones vs high tones, 12 clips each, in 6 groups that each hold both classes."""
    rows = []
    for i in range(24):
        high = i % 2 == 1
        frequency = (3000 if high else 150) + 40 * i
        audio = write_tone(tmp_path / "audio" / f"{i}.wav", 1.0, frequency)
        rows.append(ManifestRow(audio=audio, labels=["high" if high else "low"], group=f"g{(i // 2) % 6}",
                                split="test" if (i // 2) % 6 == 0 else "train", id=str(i)))
    return write_manifest(rows, tmp_path / "probe.jsonl")


def test_linear_probe_separates_low_from_high_tones(tmp_path: Path, encoder_folder: Path) -> None:
    manifest = probe_manifest(tmp_path)
    result = run_json(["eval", "linear-probe", "--manifest", str(manifest), "--encoder", str(encoder_folder),
                       "--cv-folds", "2", "--no-cache"])
    assert result["task"] == "linear_probe" and result["n"] == 24 and result["n_classes"] == 2
    assert result["grouped"] is True and len(result["fold_accuracies"]) == 2
    assert result["feature_dim"] == 2 * AisfxEncoder.from_pretrained(encoder_folder).dim
    assert result["accuracy"] >= 0.9


def test_linear_probe_on_a_fixed_test_split(tmp_path: Path, encoder_folder: Path) -> None:
    manifest = probe_manifest(tmp_path)
    result = run_json(["eval", "linear-probe", "--manifest", str(manifest), "--encoder", str(encoder_folder),
                       "--test-split", "test"])
    assert result["fold_accuracies"] == [result["accuracy"]] and result["std"] == 0.0
    assert "test" in result["protocol"]


def test_linear_probe_with_each_split_as_a_fold(tmp_path: Path, encoder_folder: Path) -> None:
    manifest = probe_manifest(tmp_path)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    for row in rows:  # three folds of two groups each
        row["split"] = f"fold{int(row['group'][1:]) % 3 + 1}"
    write_jsonl(manifest, rows)
    result = run_json(["eval", "linear-probe", "--manifest", str(manifest), "--encoder", str(encoder_folder),
                       "--split-folds"])
    assert len(result["fold_accuracies"]) == 3 and "3 folds" in result["protocol"]
    assert result["accuracy"] == pytest.approx(np.mean(result["fold_accuracies"]))


def test_linear_probe_refuses_more_folds_than_clips_per_class(tmp_path: Path, encoder_folder: Path) -> None:
    manifest = probe_manifest(tmp_path)
    result = CliRunner().invoke(app, ["eval", "linear-probe", "--manifest", str(manifest), "--encoder",
                                      str(encoder_folder), "--cv-folds", "13", "--json"])
    assert result.exit_code == 1 and "--cv-folds 13" in result.output
