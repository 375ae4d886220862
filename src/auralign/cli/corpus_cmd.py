"""`auralign data build-corpus`: the corpus of real labelled sounds (see docs/corpus.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from auralign.cli.common import console, user_errors


@user_errors
def build_corpus(
    out: Path = typer.Option(Path("runs/corpus"), help="Folder for manifest.jsonl, mixtures.jsonl, ..."),
    sources: str = typer.Option("default", help="Comma-separated sources; 'default', 'all' or names such as "
                                "0ad,supertuxkart (large optional packages are fetched only when named)."),
    seed: int = typer.Option(0, help="Seed of splits, captions and mixtures."),
    llm_budget: float = typer.Option(600.0, help="Seconds the language model may spend describing labels "
                                     "(0: cached descriptions only)."),
    train_mixtures: int = typer.Option(2000, help="Mixtures drawn from train clips (val/test/unseen: 200 each)."),
) -> None:
    """Fetch, convert, label, caption, split and mix the corpus; print its statistics."""
    from auralign.corpus.build import build_corpus as build
    from auralign.corpus.build import format_stats
    from auralign.corpus.mixtures import MixtureConfig

    evaluation = max(1, train_mixtures // 10)
    mixtures = MixtureConfig(seed=seed, counts=(("train", train_mixtures), ("val", evaluation),
                                                ("test", evaluation), ("test_unseen", evaluation)))
    stats = build(out, [s.strip() for s in sources.split(",") if s.strip()], seed=seed, llm_budget=llm_budget,
                  mixtures=mixtures, log=console.print)
    console.print(format_stats(stats))
    console.print(f"wrote {out}/manifest.jsonl, mixtures.jsonl, text_corpus.jsonl, ATTRIBUTION.md, stats.json")
