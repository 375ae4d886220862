"""The decoding options shared by `auralign caption`, `auralign ask` and `auralign eval caption|qa`, and
the generation precision of `caption`, `ask` and `serve --captioner`."""

from __future__ import annotations

from typing import Any

import typer

from auralign.backbones.decoding import Decoding
from auralign.errors import AuralignError

_DEFAULT = Decoding()
NUM_BEAMS = typer.Option(_DEFAULT.num_beams, help="Beam width (1 = no beam search).")
MAX_NEW_TOKENS = typer.Option(_DEFAULT.max_new_tokens, help="Longest text, in tokens.")
MIN_NEW_TOKENS = typer.Option(_DEFAULT.min_new_tokens, help="Shortest text, in tokens.")
NO_REPEAT_NGRAM = typer.Option(_DEFAULT.no_repeat_ngram_size, help="Never repeat an n-gram of this size (0: off).")
REPETITION_PENALTY = typer.Option(_DEFAULT.repetition_penalty, help="Penalty on tokens already written (1: off).")
SAMPLE = typer.Option(_DEFAULT.do_sample, "--sample", help="Sample instead of greedy or beam decoding.")
TEMPERATURE = typer.Option(_DEFAULT.temperature, help="Sampling temperature (with --sample).")
TOP_P = typer.Option(_DEFAULT.top_p, help="Nucleus sampling mass (with --sample).")
SEED = typer.Option(_DEFAULT.seed, help="Seed of --sample.")
GENERATION_PRECISIONS = ("fp32", "bf16")
PRECISION = typer.Option("fp32", help="Language model weights: fp32 (the reference), or the opt-in bf16 "
                                      "(half the memory; agreement and speed in docs/performance.md).")


def decoding(num_beams: int, max_new_tokens: int, min_new_tokens: int, no_repeat_ngram_size: int,
             repetition_penalty: float, sample: bool, temperature: float, top_p: float, seed: int) -> Decoding:
    """The options as a `Decoding`; an impossible combination is a one-line user error."""
    try:
        return Decoding(max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, num_beams=num_beams,
                        no_repeat_ngram_size=no_repeat_ngram_size, repetition_penalty=repetition_penalty,
                        do_sample=sample, temperature=temperature, top_p=top_p, seed=seed)
    except ValueError as error:
        raise AuralignError(f"decoding options: {error}") from None


def with_generation_precision(model: Any, precision: str) -> Any:
    """The generator with its language model's weights in `precision` (the audio side stays fp32)."""
    import torch

    if precision not in GENERATION_PRECISIONS:
        raise AuralignError(f"unknown precision {precision!r}; use one of {', '.join(GENERATION_PRECISIONS)}")
    language_model = getattr(model, "language_model", None)
    if language_model is None:
        if precision != "fp32":
            raise AuralignError(f"--precision {precision} needs a generative model with a language model")
        return model
    language_model.model.to(torch.bfloat16 if precision == "bf16" else torch.float32)
    return model
