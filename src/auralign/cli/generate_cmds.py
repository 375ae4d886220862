"""`auralign caption` and `auralign ask`: text about audio from a generative model (MATS, SLIT), or the
retrieval floor (`caption --retrieve`). The model loads once for all the files of a call."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from auralign.cli import decoding as opts
from auralign.cli.common import print_json, stdout, user_errors
from auralign.errors import AuralignError

MODEL = typer.Option(None, help="Shipped name or checkpoint path (default: mats-caption; with --retrieve: general).")
JSON = typer.Option(False, "--json", help="Print one JSON object.")


def _describe(audio: list[Path], instruction: str | None, model_name: str | None, retrieve: bool,
              caption_files: list[Path] | None, decoding, precision: str) -> tuple[list[dict], list[tuple[Path, str]]]:
    from auralign.audio.io import find_audio_files
    from auralign.data.feature_cache import FeatureCache
    from auralign.evaluation.captioning import describe_files
    from auralign.models.factory import load_captioner

    model = opts.with_generation_precision(load_captioner(model_name, retrieve, caption_files), precision)
    files = find_audio_files(audio)
    with tempfile.TemporaryDirectory(prefix="auralign-features-") as tmp:
        texts, failures = describe_files(model, FeatureCache(model.audio_encoder, root=tmp), files, instruction,
                                         decoding, progress=len(files) > 1)
    return [{"audio": str(path), "text": text} for path, text in texts], failures


def _finish(outputs: list[dict], failures: list[tuple[Path, str]], as_json: bool, task: str) -> None:
    from auralign.cli.audio_cmds import report_failures

    if as_json:
        print_json({"task": task, "outputs": outputs,
                    "failures": [{"audio": str(p), "reason": r} for p, r in failures]})
    else:
        for output in outputs:
            stdout.print(f"{output['audio']}: {output['text']}", highlight=False)
    report_failures(failures, len(outputs), strict=False)


@user_errors
def caption(audio: list[Path] = typer.Argument(..., help="Audio files or folders."), model: str | None = MODEL,
            retrieve: bool = typer.Option(False, "--retrieve", help="Return the nearest training caption "
                                          "(the retrieval floor) instead of generating."),
            captions: list[Path] | None = typer.Option(None, "--captions", help="Caption CSV(s) to retrieve from "
                                                       "(default: AudioCaps train + Clotho development)."),
            num_beams: int = opts.NUM_BEAMS, max_new_tokens: int = opts.MAX_NEW_TOKENS,
            min_new_tokens: int = opts.MIN_NEW_TOKENS, no_repeat_ngram_size: int = opts.NO_REPEAT_NGRAM,
            repetition_penalty: float = opts.REPETITION_PENALTY, sample: bool = opts.SAMPLE,
            temperature: float = opts.TEMPERATURE, top_p: float = opts.TOP_P, seed: int = opts.SEED,
            precision: str = opts.PRECISION, as_json: bool = JSON) -> None:
    """Describe each sound in a sentence (the first 10 s window of long files)."""
    if captions and not retrieve:
        raise AuralignError("--captions is the bank of --retrieve; add --retrieve")
    decoding = opts.decoding(num_beams, max_new_tokens, min_new_tokens, no_repeat_ngram_size, repetition_penalty,
                             sample, temperature, top_p, seed)
    outputs, failures = _describe(audio, None, model, retrieve, captions, decoding, precision)
    _finish(outputs, failures, as_json, "caption")


@user_errors
def ask(audio: Path = typer.Argument(..., help="An audio file."),
        question: str = typer.Argument(..., help="A question or instruction about the sound."),
        model: str | None = MODEL, num_beams: int = opts.NUM_BEAMS, max_new_tokens: int = opts.MAX_NEW_TOKENS,
        min_new_tokens: int = opts.MIN_NEW_TOKENS, no_repeat_ngram_size: int = opts.NO_REPEAT_NGRAM,
        repetition_penalty: float = opts.REPETITION_PENALTY, sample: bool = opts.SAMPLE,
        temperature: float = opts.TEMPERATURE, top_p: float = opts.TOP_P, seed: int = opts.SEED,
        precision: str = opts.PRECISION, as_json: bool = JSON) -> None:
    """Ask a question about a sound (the first 10 s window of long files)."""
    if not question.strip():
        raise AuralignError("the question is empty")
    decoding = opts.decoding(num_beams, max_new_tokens, min_new_tokens, no_repeat_ngram_size, repetition_penalty,
                             sample, temperature, top_p, seed)
    outputs, failures = _describe([audio], question, model, False, None, decoding, precision)
    _finish(outputs, failures, as_json, "ask")
