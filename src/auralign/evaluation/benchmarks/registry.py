"""The benchmarks auralign knows: loader, protocol(s), the split papers report on, and which table
the numbers are comparable with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from auralign.errors import AuralignError
from auralign.evaluation.benchmarks.base import LoadedDataset
from auralign.evaluation.benchmarks.clotho import load_clotho, load_clotho_aqa
from auralign.evaluation.benchmarks.esc50 import load_esc50
from auralign.evaluation.benchmarks.fsd50k import load_fsd50k
from auralign.evaluation.benchmarks.gtzan import load_gtzan
from auralign.evaluation.benchmarks.nsynth import load_nsynth, load_nsynth_source
from auralign.evaluation.benchmarks.tut2017 import load_tut2017
from auralign.evaluation.benchmarks.urbansound8k import load_urbansound8k
from auralign.evaluation.benchmarks.youtube import load_audiocaps, load_musiccaps, load_vggsound

Loader = Callable[[Path, str | None], LoadedDataset]
TASKS = ("zeroshot", "retrieval", "caption", "qa")


@dataclass(frozen=True)
class Benchmark:
    """``tasks``: protocols run in this order, each only if the model can do it. ``eval_split``:
    the split papers report on (None = every clip of the dataset)."""

    name: str
    title: str
    load: Loader
    tasks: tuple[str, ...]
    eval_split: str | None
    comparable_with: str


BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in [
    Benchmark("esc50", "ESC-50", load_esc50, ("zeroshot",), None,
              "zero-shot accuracy on all 2000 clips (all 5 folds), as in the CLAP papers' ESC-50 columns"),
    Benchmark("urbansound8k", "UrbanSound8K", load_urbansound8k, ("zeroshot",), None,
              "zero-shot accuracy on all 8732 clips (all 10 folds), as in the CLAP papers' US8K columns"),
    Benchmark("fsd50k", "FSD50K", load_fsd50k, ("zeroshot",), "eval",
              "zero-shot multi-label mAP on the 10231-clip eval set over the 200 classes"),
    Benchmark("gtzan", "GTZAN", load_gtzan, ("zeroshot",), None,
              "zero-shot genre accuracy on all 1000 clips (or the fault-filtered test list with --split test)"),
    Benchmark("nsynth", "NSynth (instrument family)", load_nsynth, ("zeroshot",), "test",
              "zero-shot instrument-family accuracy on the 4096-note test split"),
    Benchmark("nsynth-source", "NSynth (instrument source)", load_nsynth_source, ("zeroshot",), "test",
              "zero-shot instrument-source accuracy on the 4096-note test split"),
    Benchmark("tut2017", "TUT Acoustic Scenes 2017", load_tut2017, ("zeroshot",), "evaluation",
              "zero-shot scene accuracy on the 1620-segment evaluation set"),
    Benchmark("vggsound", "VGGSound", load_vggsound, ("zeroshot",), "test",
              "zero-shot accuracy on the test split over the 309 classes (clips still on YouTube only)"),
    Benchmark("clotho", "Clotho v2", load_clotho, ("retrieval", "caption"), "evaluation",
              "text-audio retrieval R@k and captioning metrics on the 1045-clip evaluation split"),
    Benchmark("audiocaps", "AudioCaps", load_audiocaps, ("retrieval", "caption"), "test",
              "text-audio retrieval R@k and captioning metrics on the test split (5 captions per clip)"),
    Benchmark("musiccaps", "MusicCaps", load_musiccaps, ("caption", "retrieval"), "eval",
              "music captioning metrics on the 2858-clip is_audioset_eval subset"),
    Benchmark("clotho-aqa", "Clotho-AQA", load_clotho_aqa, ("qa",), "test",
              "QA accuracy and yes/no binary accuracy on the test split, one score per official row"),
]}
ALIASES = {"esc-50": "esc50", "us8k": "urbansound8k", "urbansound": "urbansound8k", "clothoaqa": "clotho-aqa",
           "clotho_aqa": "clotho-aqa", "tut-2017": "tut2017", "clothov2": "clotho"}


def get_benchmark(name: str) -> Benchmark:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in BENCHMARKS:
        raise AuralignError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    return BENCHMARKS[key]
