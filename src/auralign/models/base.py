"""What every auralign model shares: a JSON config, trainable weights in safetensors, and the
`save_pretrained` / `from_pretrained` pair (Hugging Face conventions).

A saved model folder holds `config.json` (with `model_type` and the names or paths of the frozen
backbones it was trained on) and `model.safetensors` with only the weights the model trained. The
frozen backbones are never copied: they are loaded from the backbone cache or the given path.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from auralign.backbones.base import AudioEncoder, Decoding, TextEncoder
from auralign.config import config_from_dict
from auralign.errors import CheckpointError
from auralign.tensors_io import load_tensors

CAPTION_INSTRUCTION = "Generate audio caption."  # the captioning prompt of every model that writes text
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

M = TypeVar("M", bound="PretrainedModel")


class PretrainedModel(nn.Module):
    """Base for auralign models: subclasses set `model_type`, `config_class` and build from a config."""

    model_type: ClassVar[str]
    config_class: ClassVar[type]

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    def state_dict_for_checkpoint(self) -> dict[str, Tensor]:
        """The weights a checkpoint keeps: every parameter that trains plus the non-frozen buffers."""
        trainable = {name for name, p in self.named_parameters() if p.requires_grad}
        return {name: t.detach() for name, t in self.state_dict().items() if name in trainable
                or name in self.extra_saved_tensors()}

    def extra_saved_tensors(self) -> set[str]:
        """Names of frozen tensors that still belong in the checkpoint (e.g. a memory bank)."""
        return set()

    def save_pretrained(self, directory: str | Path, dtype: torch.dtype | None = None) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).contiguous().cpu()
                 for k, v in self.state_dict_for_checkpoint().items()}
        save_file(state, str(directory / WEIGHTS_NAME))
        config = {"model_type": self.model_type, **dataclasses.asdict(self.config)}
        (directory / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        return directory

    @classmethod
    def from_pretrained(cls: type[M], directory: str | Path, **overrides: Any) -> M:
        config = read_config(directory)
        if config.pop("model_type", None) != cls.model_type:
            raise CheckpointError(f"{directory}: not a {cls.model_type} checkpoint")
        config.update(overrides)
        model = cls(config_from_dict(cls.config_class, config, strict=False))
        model.load_weights(directory)
        return model.eval()

    def load_weights(self, source: str | Path | dict[str, Tensor], prefix: str = "",
                     allow_missing: bool = False) -> list[str]:
        """Copy saved weights into this model: a model or checkpoint folder (its `model.safetensors`)
        or a state dict. Only names under `prefix` are read (e.g. "mapper." for one submodule). Every
        checkpoint weight under `prefix` must fit by name and shape; with `allow_missing`, weights this
        model trains that the source lacks keep their fresh values (e.g. the LLM projection when SLIT's
        stage 2 starts from stage 1) and their names are returned, else they are an error."""
        state = source if isinstance(source, dict) else load_tensors(Path(source) / WEIGHTS_NAME)
        state = {name: tensor for name, tensor in state.items() if name.startswith(prefix)}
        own = self.state_dict()
        unknown = sorted(set(state) - set(own))
        missing = sorted(name for name in set(self.state_dict_for_checkpoint()) - set(state)
                         if name.startswith(prefix))
        reshaped = sorted(name for name, tensor in state.items() if name in own and tensor.shape != own[name].shape)
        where = "" if isinstance(source, dict) else f"{source}: "
        if unknown or reshaped or (missing and not allow_missing):
            raise CheckpointError(f"{where}checkpoint does not fit the model: unknown={unknown[:5]} "
                                  f"missing={missing[:5]} other shape={reshaped[:5]}")
        with torch.no_grad():
            for name, tensor in state.items():
                own[name].copy_(tensor.to(own[name].dtype))
        return missing


def frozen_backbones(config: Any, audio_encoder: AudioEncoder | None = None,
                     text_encoder: TextEncoder | None = None) -> tuple[AudioEncoder, TextEncoder]:
    """The given encoders, else those named by `config.audio_encoder` / `config.text_encoder`, frozen."""
    from auralign.backbones.factory import load_audio_encoder, load_text_encoder

    audio = (audio_encoder or load_audio_encoder(config.audio_encoder)).requires_grad_(False)
    text = (text_encoder or load_text_encoder(config.text_encoder)).requires_grad_(False)
    return audio, text


def read_config(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / CONFIG_NAME
    if not path.is_file() or not (Path(directory) / WEIGHTS_NAME).is_file():
        raise CheckpointError(f"{directory}: not a model folder (needs {CONFIG_NAME} and {WEIGHTS_NAME})")
    return json.loads(path.read_text())


@runtime_checkable
class AudioTextEmbedder(Protocol):
    """A model that places audio and text in one space (CLAP, CoLLAT, SLIT stage 1).

    Audio enters as the frozen encoder's frame tokens, so evaluation and training can read them from
    the feature cache instead of re-running the encoder.
    """

    audio_encoder: AudioEncoder

    def embed_audio_tokens(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """(B, T, D) tokens + (B, T) mask -> (B, E) L2-normalised audio embeddings."""
        ...

    def embed_text(self, texts: list[str]) -> Tensor:
        """Texts -> (N, E) L2-normalised text embeddings."""
        ...


@runtime_checkable
class CandidateScorer(Protocol):
    """A model that scores free-text candidate labels per clip, higher is better (SLIT's vocabulary
    ranking by log-likelihood, MATS's generate-then-match)."""

    audio_encoder: AudioEncoder

    def score_candidates(self, tokens: Tensor, mask: Tensor, candidates: list[str]) -> Tensor:
        """(B, T, D) tokens + (B, T) mask -> (B, len(candidates)) scores."""
        ...


@runtime_checkable
class AudioTextGenerator(Protocol):
    """A model that writes text about audio: captions, answers (SLIT, MATS)."""

    audio_encoder: AudioEncoder

    def generate(self, tokens: Tensor, mask: Tensor, instruction: str | None = None,
                 decoding: Decoding | None = None) -> list[str]:
        """One text per clip; `instruction` None means the model's default captioning prompt."""
        ...
