"""`--max-seconds`: over-long files fail per file with one line, from the header before decoding (or while
decoding when the header declares no length); the streamed per-clip mean equals the gather-all one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from auralign.audio import io
from auralign.audio.io import declared_seconds, iter_windows
from auralign.backbones.aisfx import AisfxEncoder
from auralign.cli.main import app
from auralign.data.feature_cache import FeatureCache, pad_tokens
from auralign.errors import AudioTooLongError
from auralign.evaluation.embedding import per_clip_mean
from auralign.paths import backbones_dir
from backbone_factory import make_tiny_aisfx
from data_factory import tone

REAL_BACKBONES = backbones_dir()  # read before any test points AURALIGN_HOME elsewhere


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Caches go to a temporary home that sees the real backbones through a link."""
    home = tmp_path_factory.mktemp("home")
    (home / "backbones").symlink_to(REAL_BACKBONES, target_is_directory=True)
    monkeypatch.setenv("AURALIGN_HOME", str(home))


def write_clip(path: Path, seconds: float, rate: int = 16000, frequency: float = 440.0) -> Path:
    sf.write(path, tone(seconds, rate, frequency=frequency), rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> AisfxEncoder:
    return AisfxEncoder.from_pretrained(make_tiny_aisfx(tmp_path_factory.mktemp("aisfx")))


def test_the_header_refuses_a_long_file_before_decoding(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    clip = write_clip(tmp_path / "long.wav", 5.0)

    def no_decoding(path: Path, sound: sf.SoundFile) -> Iterator[np.ndarray]:
        raise AssertionError("decoded")

    monkeypatch.setattr(io, "_read_mono_blocks", no_decoding)
    with pytest.raises(AudioTooLongError) as caught:
        next(iter_windows(clip, 16000, max_seconds=2))
    assert caught.value.reason == "longer than --max-seconds (5 s > 2 s)"


def test_without_a_declared_length_decoding_stops_past_the_limit(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    clip = write_clip(tmp_path / "stream.wav", 30.0)
    monkeypatch.setattr(io, "_declared_seconds", lambda sound: None)
    monkeypatch.setattr(io, "_BLOCK_SAMPLES", 16000)
    windows = []
    with pytest.raises(AudioTooLongError) as caught:
        for window in iter_windows(clip, 16000, window_seconds=1.0, max_seconds=3):
            windows.append(window)
    assert caught.value.reason == "longer than --max-seconds (over 3 s)"
    assert len(windows) <= 4


def test_files_within_the_limit_are_unchanged(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "short.wav", 2.5)
    limited = list(iter_windows(clip, 16000, window_seconds=0.5, max_seconds=2.5))
    free = list(iter_windows(clip, 16000, window_seconds=0.5))
    assert len(limited) == len(free) == 5
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(limited, free, strict=True))


def test_declared_seconds(tmp_path: Path) -> None:
    assert declared_seconds(write_clip(tmp_path / "a.wav", 1.5, rate=8000)) == 1.5
    (tmp_path / "text.wav").write_text("not audio")
    assert declared_seconds(tmp_path / "text.wav") is None
    assert declared_seconds(tmp_path / "missing.wav") is None


def test_the_cache_fails_long_clips_without_remembering_them(tmp_path: Path, encoder: AisfxEncoder) -> None:
    short, long = write_clip(tmp_path / "short.wav", 1.0), write_clip(tmp_path / "long.wav", 3.0)
    limited = FeatureCache(encoder, root=tmp_path / "cache", max_seconds=2)
    assert limited.ensure([short, long], progress=False) == [(long, "longer than --max-seconds (3 s > 2 s)")]
    unlimited = FeatureCache(encoder, root=tmp_path / "cache")
    assert unlimited.ensure([short, long], progress=False) == []
    # now cached: the limit still applies, from the header
    again = FeatureCache(encoder, root=tmp_path / "cache", max_seconds=2)
    assert again.ensure([short, long], progress=False) == [(long, "longer than --max-seconds (3 s > 2 s)")]


def gathered_mean(fn, cache: FeatureCache, paths: list[Path], batch_size: int) -> np.ndarray:
    """The previous per_clip_mean: every window of every clip gathered, then scored in batches."""
    windows, owner = [], []
    for row, path in enumerate(paths):
        for window in cache.get(path).windows():
            windows.append(window)
            owner.append(row)
    per_window = torch.cat([fn(*pad_tokens(windows[i:i + batch_size]))
                            for i in range(0, len(windows), batch_size)]).float()
    summed = torch.zeros(len(paths), per_window.shape[1]).index_add_(0, torch.tensor(owner), per_window)
    return (summed / torch.bincount(torch.tensor(owner), minlength=len(paths)).unsqueeze(1)).numpy()


def test_streamed_per_clip_mean_equals_the_gathered_one(tmp_path: Path, encoder: AisfxEncoder) -> None:
    clips = [write_clip(tmp_path / f"c{i}.wav", seconds, frequency=300.0 + 170 * i)
             for i, seconds in enumerate([2.5, 0.7, 4.2, 1.0, 3.3])]
    (tmp_path / "bad.wav").write_text("not audio")
    cache = FeatureCache(encoder, root=tmp_path / "cache")
    weights = torch.randn(32, 7, generator=torch.Generator().manual_seed(0))

    def fn(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.tanh((tokens * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True) @ weights)

    paths = [clips[0], clips[1], tmp_path / "bad.wav", *clips[2:]]
    for batch_size in (1, 3, 64):
        result = per_clip_mean(fn, cache, paths, batch_size=batch_size, progress=False)
        assert result.index == [0, 1, 3, 4, 5]
        assert [(p.name, r[:3]) for p, r in result.failures] == [("bad.wav", "not")]
        np.testing.assert_array_equal(result.vectors, gathered_mean(fn, cache, clips, batch_size))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_a_limit_must_be_positive(tmp_path: Path) -> None:
    code, _, stderr = run("embed", str(write_clip(tmp_path / "a.wav", 1.0)), "--max-seconds", "0")
    assert code == 2 and "must be a positive number of seconds" in stderr


@pytest.mark.backbones
@pytest.mark.parametrize("command", [["embed"], ["embed", "--model", "general"],
                                     ["classify", "--labels", "a, b, c"]])
def test_cli_long_file_is_a_per_file_failure(tmp_path: Path, command: list[str]) -> None:
    write_clip(tmp_path / "short.wav", 1.0, rate=44100)
    write_clip(tmp_path / "long.wav", 3.0, rate=44100)
    code, out, stderr = run(command[0], str(tmp_path), *command[1:], "--json", "--max-seconds", "2")
    assert code == 0, stderr
    result = json.loads(out)
    assert result["failures"] == [{"audio": str(tmp_path / "long.wav"),
                                   "reason": "longer than --max-seconds (3 s > 2 s)"}]
    done = result["embeddings"] if command[0] == "embed" else result["predictions"]
    assert [Path(item["audio"]).name for item in done] == ["short.wav"]
    assert f"failed: {tmp_path / 'long.wav'}: longer than --max-seconds (3 s > 2 s)" in stderr
    code, out, _ = run(command[0], str(tmp_path), *command[1:], "--json")
    assert code == 0 and json.loads(out)["failures"] == []


@pytest.mark.backbones
def test_search_by_a_long_example_is_one_line(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    write_clip(clips / "a.wav", 1.0, rate=44100)
    long = write_clip(tmp_path / "long.wav", 3.0, rate=44100)
    index = tmp_path / "index"
    code, _, stderr = run("index", "build", str(clips), "--out", str(index), "--max-seconds", "2")
    assert code == 0, stderr
    code, _, stderr = run("search", str(index), "--audio", str(long), "--max-seconds", "2")
    assert code == 1
    assert stderr.strip() == f"error: {long}: longer than --max-seconds (3 s > 2 s)"


@pytest.mark.backbones
def test_eval_lists_a_long_clip_among_its_failures(tmp_path: Path) -> None:
    rows = [{"audio": str(write_clip(tmp_path / f"{name}.wav", seconds, rate=44100, frequency=frequency)),
             "labels": [name]} for name, seconds, frequency in (("low", 1.0, 220.0), ("high", 1.0, 880.0),
                                                                 ("long", 3.0, 440.0))]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    code, out, stderr = run("eval", "zeroshot", "--manifest", str(manifest), "--no-cache", "--json",
                            "--max-seconds", "2")
    assert code == 0, stderr
    result = json.loads(out)
    assert result["n"] == 2
    assert result["failures"] == [{"audio": str(tmp_path / "long.wav"),
                                   "reason": "longer than --max-seconds (3 s > 2 s)"}]
