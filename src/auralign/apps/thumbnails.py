"""Server-rendered waveform thumbnails (PNG) of indexed files.

The file is read block by block at its own rate and reduced to a min/max envelope of `width` columns,
so memory stays small whatever the length; only the first `MAX_SECONDS` are drawn, which keeps a
thumbnail of a 3-hour recording as cheap as one of a 10-minute one.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image, ImageDraw

MAX_SECONDS = 600.0
WIDTH, HEIGHT = 240, 48
BACKGROUND = (245, 246, 248)
INK = (46, 92, 184)


def envelope(path: Path, width: int = WIDTH) -> np.ndarray:
    """(width, 2) min and max of the mono signal per column, in [-1, 1]."""
    with sf.SoundFile(str(path)) as sound:
        frames = min(sound.frames, int(MAX_SECONDS * sound.samplerate)) if sound.frames > 0 else 0
        per_column = max(1, -(-frames // width))
        out = np.zeros((width, 2), dtype=np.float32)
        for column in range(width):
            block = sound.read(per_column, dtype="float32", always_2d=True)
            if not len(block):
                break
            mono = block.mean(axis=1)
            out[column] = (float(np.nanmin(mono)), float(np.nanmax(mono)))
    return np.clip(np.nan_to_num(out), -1.0, 1.0)


def waveform_png(path: Path, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    env = envelope(path, width)
    peak = max(float(np.abs(env).max()), 1e-4)  # normalised, so quiet files are visible too
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    middle = (height - 1) / 2
    for x, (low, high) in enumerate(env / peak):
        draw.line([(x, middle - high * middle), (x, middle - low * middle)], fill=INK)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
