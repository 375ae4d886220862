"""auralign: audio-language models on frozen backbones (CLAP, CoLLAT, SLIT, MATS)."""

__version__ = "0.1.0"
