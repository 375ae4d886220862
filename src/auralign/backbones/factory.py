"""Load a backbone by registry name, by local folder, or the packaged default.

`name_or_path=None` gives the registry default; a registry name gives that fetched backbone; anything
else must be a local folder with a config.json whose `model_type` says what it is. Loaded backbones are
cached per process (one instance per folder), so callers share them: a caller that modifies its
backbone (LoRA, unlocked layers) should call `clear_backbone_cache()` first or own a fresh instance.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from auralign.backbones.base import AudioEncoder, LanguageModel, TextEncoder
from auralign.backbones.registry import (
    BACKBONES,
    DEFAULT_AUDIO_ENCODER,
    DEFAULT_LLM,
    DEFAULT_TEXT_ENCODER,
    backbone_path,
)
from auralign.errors import AuralignError

BackboneKind = Literal["text", "llm", "audio"]
KIND_NAMES = {"text": "text encoder", "llm": "language model", "audio": "audio encoder"}
CLIP_TEXT_TYPES = ("clip", "clip_text_model")
CAUSAL_ARCHITECTURE_SUFFIXES = ("ForCausalLM", "LMHeadModel")


def load_text_encoder(name_or_path: str | Path | None = None) -> TextEncoder:
    return _load(str(_resolve(name_or_path, DEFAULT_TEXT_ENCODER, "text")), "text")


def load_language_model(name_or_path: str | Path | None = None) -> LanguageModel:
    return _load(str(_resolve(name_or_path, DEFAULT_LLM, "llm")), "llm")


def load_audio_encoder(name_or_path: str | Path | None = None) -> AudioEncoder:
    return _load(str(_resolve(name_or_path, DEFAULT_AUDIO_ENCODER, "audio")), "audio")


def clear_backbone_cache() -> None:
    _load.cache_clear()


def _resolve(name_or_path: str | Path | None, default: str, kind: BackboneKind) -> Path:
    name = default if name_or_path is None else str(name_or_path)
    if name in BACKBONES:
        if BACKBONES[name].kind != kind:
            raise AuralignError(f"backbone {name!r} is a {KIND_NAMES[BACKBONES[name].kind]}, not a {KIND_NAMES[kind]}")
        return backbone_path(name)
    path = Path(name).expanduser()
    if not path.is_dir():
        raise AuralignError(
            f"{name!r} is neither a known backbone ({', '.join(BACKBONES)}) nor an existing folder"
        )
    return path.resolve()


def backbone_kind(path: Path) -> BackboneKind:
    """What a local model folder holds, judged from its config.json."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise AuralignError(f"{path}: no config.json, so this is not a model folder auralign can load")
    config = json.loads(config_file.read_text())
    model_type = config.get("model_type")
    if model_type == "aisfx":
        return "audio"
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES,
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    architectures = config.get("architectures") or []
    if any(arch.endswith(CAUSAL_ARCHITECTURE_SUFFIXES) for arch in architectures):
        return "llm"
    if model_type in MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES:
        return "audio"
    # BERT-like models also have a causal-LM head class, so the masked-LM check must come first.
    if model_type in CLIP_TEXT_TYPES or model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return "text"
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "llm"
    raise AuralignError(f"{path}: unsupported model_type {model_type!r} in config.json")


@lru_cache(maxsize=8)
def _load(path_string: str, kind: BackboneKind):
    path = Path(path_string)
    found = backbone_kind(path)
    if found != kind:
        raise AuralignError(f"{path} holds a {KIND_NAMES[found]}, not a {KIND_NAMES[kind]}")
    if kind == "text":
        from auralign.backbones.text_encoder import HFTextEncoder

        return HFTextEncoder.from_pretrained(path)
    if kind == "llm":
        from auralign.backbones.language_model import HFLanguageModel

        return HFLanguageModel.from_pretrained(path)
    if json.loads((path / "config.json").read_text()).get("model_type") == "aisfx":
        from auralign.backbones.aisfx import AisfxEncoder

        return AisfxEncoder.from_pretrained(path)
    from auralign.backbones.hf_audio import HFAudioEncoder

    return HFAudioEncoder.from_pretrained(path)
