"""Load an auralign model by shipped name (`general`, `clap-fsdd`, `collat`, `slit`, ...) or by checkpoint path."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from auralign.errors import CheckpointError
from auralign.models.base import PretrainedModel, read_config
from auralign.paths import SHIPPED_WEIGHTS_DIR

# model_type -> "module:Class"; imported lazily so loading one family never imports the others.
MODEL_CLASSES = {
    "clap": "auralign.models.clap:ClapModel",
    "collat": "auralign.models.collat:CollatModel",
    "slit": "auralign.models.slit:SlitModel",
    "mats": "auralign.models.mats:MatsModel",
}


DEFAULT_MODEL = "general"
DEFAULT_CAPTIONER = "mats-caption"  # the default of `auralign caption` and `auralign ask`
# Old shipped names kept for one release: name -> the model it now points to.
DEPRECATED_ALIASES = {"clap": "clap-fsdd"}


def shipped_models() -> list[str]:
    return sorted(p.name for p in SHIPPED_WEIGHTS_DIR.iterdir() if (p / "config.json").is_file()) \
        if SHIPPED_WEIGHTS_DIR.is_dir() else []


def resolve_model_path(name_or_path: str | Path) -> Path:
    """A shipped model's folder for a bare name, else the given path; errors list what exists."""
    candidate = Path(name_or_path).expanduser()
    if candidate.exists():
        return candidate
    if str(name_or_path) in DEPRECATED_ALIASES:
        new_name = DEPRECATED_ALIASES[str(name_or_path)]
        print(f"notice: model {name_or_path!r} is now {new_name!r}; the old name goes in the next release",
              file=sys.stderr)
        name_or_path = new_name
    shipped = SHIPPED_WEIGHTS_DIR / str(name_or_path)
    if "/" not in str(name_or_path) and (shipped / "config.json").is_file():
        return shipped
    names = ", ".join(shipped_models()) or "none"
    raise CheckpointError(f"no model {str(name_or_path)!r}: not a path, and not a shipped model ({names})")


def model_class(model_type: str) -> type[PretrainedModel]:
    if model_type not in MODEL_CLASSES:
        raise CheckpointError(f"unknown model_type {model_type!r}; known: {', '.join(MODEL_CLASSES)}")
    module_name, class_name = MODEL_CLASSES[model_type].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def load_model(name_or_path: str | Path = DEFAULT_MODEL) -> PretrainedModel:
    path = resolve_model_path(name_or_path)
    model_type = read_config(path).get("model_type", "")
    return model_class(model_type).from_pretrained(path)


def load_training_checkpoint(directory: str | Path, model_type: str) -> PretrainedModel:
    """A model from a trainer checkpoint folder (its config.json is the run config with a `model` section)."""
    import json

    from auralign.config import config_from_dict
    from auralign.models.base import WEIGHTS_NAME

    directory = Path(directory)
    run_config = json.loads((directory / "config.json").read_text()) if (directory / "config.json").is_file() else {}
    if "model" not in run_config or not (directory / WEIGHTS_NAME).is_file():
        raise CheckpointError(f"{directory}: not a training checkpoint (needs config.json with 'model' and "
                              f"{WEIGHTS_NAME})")
    cls = model_class(model_type)
    model = cls(config_from_dict(cls.config_class, run_config["model"], strict=False))
    model.load_weights(directory)
    return model.eval()


def load_captioner(name_or_path: str | Path | None = None, retrieve: bool = False,
                   caption_files: list[Path] | None = None) -> Any:
    """A model that writes text about audio (an `AudioTextGenerator`).

    Without `retrieve`: the generative model `name_or_path` (default `DEFAULT_CAPTIONER`). With it: the
    retrieval floor over the audio-text embedder `name_or_path` (default `DEFAULT_MODEL`), whose captions
    are `caption_files` (default: the training captions in the shared data folder)."""
    from auralign.models.base import AudioTextEmbedder, AudioTextGenerator

    if not retrieve:
        name = str(name_or_path or DEFAULT_CAPTIONER)
        model = load_model(name)
        if not isinstance(model, AudioTextGenerator):
            raise CheckpointError(f"model {name!r} cannot generate text: use a captioner ({DEFAULT_CAPTIONER}, "
                                  "slit) or --retrieve with an embedding model")
        return model
    from auralign.data.captions import default_caption_files, read_caption_files
    from auralign.models.retrieval import CaptionRetriever

    name = str(name_or_path or DEFAULT_MODEL)
    embedder = load_model(name)
    if not isinstance(embedder, AudioTextEmbedder):
        raise CheckpointError(f"--retrieve needs an audio-text embedding model (general, clap-fsdd, collat), "
                              f"not {name!r}")
    return CaptionRetriever.from_captions(embedder, read_caption_files(caption_files or default_caption_files()))
