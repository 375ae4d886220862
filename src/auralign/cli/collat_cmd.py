"""`auralign collat tokens AUDIO --out F`: audio -> text-encoder token embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from auralign.cli.common import FORCE, atomic_file, check_output, console, shown, user_errors

app = typer.Typer(help="CoLLAT: audio as token embeddings of a locked text encoder.", no_args_is_help=True)


@app.callback()
def collat() -> None:
    """CoLLAT: audio as token embeddings of a locked text encoder."""


@app.command("tokens")
@user_errors
def tokens(
    audio: Path = typer.Argument(..., help="An audio file."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .safetensors file."),
    model: str = typer.Option("collat", help="Shipped model name or CoLLAT checkpoint path."),
    window_seconds: float = typer.Option(10.0, help="Clips are cut into windows of this length."),
    force: bool = FORCE,
) -> None:
    """Write the audio-derived text-token embeddings h^{a-t} of AUDIO: one (N, D) block per window.

    The file holds `tokens` (windows, N, D) float32 in the input-embedding space of the model's text
    encoder (metadata names it); feed a block to that encoder as `inputs_embeds`, or to any model
    conditioned on that encoder's token embeddings.
    """
    import torch
    from safetensors.torch import save_file

    from auralign.audio.io import iter_windows
    from auralign.data.feature_cache import pad_waveforms
    from auralign.errors import AuralignError
    from auralign.models.collat import CollatModel
    from auralign.models.factory import load_model

    check_output(out, [audio], force=force)
    loaded = load_model(model)
    if not isinstance(loaded, CollatModel):
        raise AuralignError(f"{model!r} is a {loaded.model_type} model; token export needs a CoLLAT model")
    windows = [w.samples for w in iter_windows(audio, loaded.audio_encoder.sample_rate,
                                                window_seconds=window_seconds)]
    with torch.inference_mode():
        encoded = loaded.audio_encoder(*pad_waveforms(windows))
        pseudo = loaded.audio_text_tokens(encoded.tokens, encoded.mask).float().contiguous()
    metadata = {"audio": str(audio), "model": model, "text_encoder": loaded.config.text_encoder,
                "window_seconds": json.dumps(window_seconds), "shape": json.dumps(list(pseudo.shape))}
    with atomic_file(out) as tmp:
        save_file({"tokens": pseudo}, str(tmp), metadata=metadata)
    console.print(f"{shown(out)}: tokens {tuple(pseudo.shape)} (windows, tokens, dim) for {loaded.config.text_encoder}")

