"""Reading safetensors files with one-line errors: a truncated or corrupted file names itself."""

from __future__ import annotations

from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor

from auralign.errors import CheckpointError


def load_tensors(path: str | Path) -> dict[str, Tensor]:
    """`safetensors.torch.load_file`, raising `CheckpointError` naming the file when it is damaged."""
    try:
        return load_file(str(path))
    except SafetensorError as error:
        raise CheckpointError(f"{path}: damaged weights file ({str(error).splitlines()[0]})") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read ({error.strerror or error})") from None
