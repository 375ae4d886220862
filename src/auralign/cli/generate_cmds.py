"""`auralign caption` and `auralign ask`: text about audio from a generative model (SLIT, MATS)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from auralign.cli.common import print_json, stdout, user_errors
from auralign.errors import AuralignError

MODEL = typer.Option("slit", help="A generative model: shipped name (slit, mats) or checkpoint path.")
BEAMS = typer.Option(1, help="Beam width (1 = greedy).")
MAX_TOKENS = typer.Option(30, help="Longest answer, in tokens.")
JSON = typer.Option(False, "--json", help="Print one JSON object.")


def _generate(audio: list[Path], instruction: str | None, model_name: str, num_beams: int,
              max_new_tokens: int) -> tuple[list[dict], list[tuple[Path, str]]]:
    from auralign.audio.io import find_audio_files
    from auralign.data.feature_cache import FeatureCache, pad_tokens
    from auralign.models.base import AudioTextGenerator
    from auralign.models.factory import load_model

    model = load_model(model_name)
    if not isinstance(model, AudioTextGenerator):
        raise AuralignError(f"model {model_name!r} cannot generate text (use slit or mats)")
    files = find_audio_files(audio)
    outputs, failures = [], []
    with tempfile.TemporaryDirectory(prefix="auralign-features-") as tmp:
        cache = FeatureCache(model.audio_encoder, root=tmp)
        failures = cache.ensure(files)
        failed = {path for path, _ in failures}
        for file in files:
            if file in failed:
                continue
            first_window = cache.get(file).windows()[0]
            text = model.generate(*pad_tokens([first_window]), instruction=instruction,
                                  max_new_tokens=max_new_tokens, num_beams=num_beams)[0]
            outputs.append({"audio": str(file), "text": text})
    return outputs, failures


def _finish(outputs: list[dict], failures: list[tuple[Path, str]], as_json: bool, task: str) -> None:
    from auralign.cli.audio_cmds import report_failures

    if as_json:
        print_json({"task": task, "outputs": outputs,
                    "failures": [{"audio": str(p), "reason": r} for p, r in failures]})
    else:
        for output in outputs:
            stdout.print(f"{output['audio']}: {output['text']}", highlight=False)
    report_failures(failures, len(outputs), strict=False)


def caption(audio: list[Path] = typer.Argument(..., help="Audio files or folders."), model: str = MODEL,
            num_beams: int = BEAMS, max_new_tokens: int = MAX_TOKENS, as_json: bool = JSON) -> None:
    """Describe each sound in a sentence (the first 10 s window of long files)."""
    _caption(audio, model, num_beams, max_new_tokens, as_json)


@user_errors
def _caption(audio: list[Path], model: str, num_beams: int, max_new_tokens: int, as_json: bool) -> None:
    outputs, failures = _generate(audio, None, model, num_beams, max_new_tokens)
    _finish(outputs, failures, as_json, "caption")


def ask(audio: Path = typer.Argument(..., help="An audio file."),
        question: str = typer.Argument(..., help="A question or instruction about the sound."),
        model: str = MODEL, num_beams: int = BEAMS, max_new_tokens: int = MAX_TOKENS, as_json: bool = JSON) -> None:
    """Ask a question about a sound (the first 10 s window of long files)."""
    _ask(audio, question, model, num_beams, max_new_tokens, as_json)


@user_errors
def _ask(audio: Path, question: str, model: str, num_beams: int, max_new_tokens: int, as_json: bool) -> None:
    if not question.strip():
        raise AuralignError("the question is empty")
    outputs, failures = _generate([audio], question, model, num_beams, max_new_tokens)
    _finish(outputs, failures, as_json, "ask")
