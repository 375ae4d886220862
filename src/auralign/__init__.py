"""auralign: audio-language models on frozen backbones (CLAP, CoLLAT, SLIT, MATS).

`auralign.load()` gives the default model (`embed_audio`, `embed_text`, `classify`, `caption`, `ask`);
`auralign.Index.open(folder).search("text")` searches a sound library (`auralign.api`). Both are
imported on first use, so `import auralign` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auralign.api import Index, Model, load

__version__ = "0.1.0"
__all__ = ["Index", "Model", "__version__", "load"]


def __getattr__(name: str) -> Any:
    if name in ("Index", "Model", "load"):
        from auralign import api

        return getattr(api, name)
    raise AttributeError(f"module 'auralign' has no attribute {name!r}")
