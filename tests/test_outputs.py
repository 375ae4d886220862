"""Outputs never destroy anything: every writing command refuses an existing output (and an output that
is one of its inputs) unless --force, writes atomically, and a full disk leaves the previous output
intact with one clear line. Refusals happen before any model is loaded, so most tests need no backbone."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from auralign.cli.common import atomic_file, atomic_folder
from auralign.cli.main import app
from auralign.training.checkpoint import prepare_output_dir
from data_factory import tone

PREVIOUS = b"previous output, must survive"


def run(*args: str) -> tuple[int, str]:
    """Exit code and stderr of `auralign ARGS`; any exception other than an exit is a test failure."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr


def assert_refused(code: int, stderr: str, victim: Path, content: bytes) -> None:
    assert code == 1
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    assert "Traceback" not in stderr
    assert victim.read_bytes() == content


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.wav"
    sf.write(path, tone(1.0, 16000), 16000)
    return path


def test_embed_refuses_an_existing_out(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "mine.npy"
    out.write_bytes(PREVIOUS)
    code, stderr = run("embed", str(clip), "--out", str(out))
    assert_refused(code, stderr, out, PREVIOUS)
    assert "--force" in stderr


def test_embed_refuses_an_out_that_is_its_input_even_with_force(clip: Path) -> None:
    content = clip.read_bytes()
    code, stderr = run("embed", str(clip), "--out", str(clip), "--force")
    assert_refused(code, stderr, clip, content)
    assert "also an input" in stderr


def test_collat_tokens_refuses_to_write_over_its_input(clip: Path) -> None:
    content = clip.read_bytes()
    code, stderr = run("collat", "tokens", str(clip), "--out", str(clip))
    assert_refused(code, stderr, clip, content)


def test_collat_tokens_refuses_an_existing_out(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "tokens.safetensors"
    out.write_bytes(PREVIOUS)
    code, stderr = run("collat", "tokens", str(clip), "--out", str(out))
    assert_refused(code, stderr, out, PREVIOUS)


def test_data_from_folder_keeps_an_existing_manifest(tmp_path: Path, clip: Path) -> None:
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_bytes(PREVIOUS)
    code, stderr = run("data", "from-folder", str(tmp_path))
    assert_refused(code, stderr, manifest, PREVIOUS)
    code, _ = run("data", "from-folder", str(tmp_path), "--force")
    assert code == 0 and "clip.wav" in manifest.read_text()


def test_data_fsdd_keeps_an_existing_out(tmp_path: Path) -> None:
    out = tmp_path / "fsdd.jsonl"
    out.write_bytes(PREVIOUS)
    code, stderr = run("data", "fsdd", "--out", str(out), "--root", str(tmp_path))
    assert_refused(code, stderr, out, PREVIOUS)


def test_index_build_refuses_a_non_empty_folder(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "index"
    out.mkdir()
    (out / "vectors.faiss").write_bytes(PREVIOUS)
    code, stderr = run("index", "build", str(clip), "--out", str(out))
    assert_refused(code, stderr, out / "vectors.faiss", PREVIOUS)


def test_models_export_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    destination = tmp_path / "exported"
    destination.mkdir()
    (destination / "model.safetensors").write_bytes(PREVIOUS)
    code, stderr = run("models", "export", "clap", str(destination))
    assert_refused(code, stderr, destination / "model.safetensors", PREVIOUS)


def test_data_shards_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    out = tmp_path / "shards"
    out.mkdir()
    (out / "shard-000000.tar").write_bytes(PREVIOUS)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"audio": "clip.wav"}\n')
    code, stderr = run("data", "shards", str(manifest), str(out))
    assert_refused(code, stderr, out / "shard-000000.tar", PREVIOUS)


def test_mats_santa_figure_refuses_an_existing_png(tmp_path: Path) -> None:
    out = tmp_path / "figure.png"
    out.write_bytes(PREVIOUS)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"audio": "clip.wav"}\n')
    code, stderr = run("mats", "santa-figure", str(manifest), "--out", str(out))
    assert_refused(code, stderr, out, PREVIOUS)


def test_train_refuses_a_non_empty_output_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "final").mkdir(parents=True)
    log = run_dir / "log.jsonl"
    log.write_bytes(PREVIOUS)
    code, stderr = run("train", "clap", f"train.output_dir={run_dir}", "data.manifest=unused.jsonl")
    assert_refused(code, stderr, log, PREVIOUS)
    assert "--resume" in stderr and "--overwrite" in stderr


def test_overwrite_removes_only_the_previous_runs_outputs(tmp_path: Path) -> None:
    (tmp_path / "checkpoints" / "ckpt-000001").mkdir(parents=True)
    (tmp_path / "final").mkdir()
    (tmp_path / "log.jsonl").write_text("{}\n")
    (tmp_path / "notes.txt").write_text("mine")
    prepare_output_dir(tmp_path, resume=True, overwrite=False)  # resuming: untouched
    assert (tmp_path / "log.jsonl").exists()
    prepare_output_dir(tmp_path, resume=False, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    prepare_output_dir(tmp_path / "fresh", resume=False, overwrite=False)  # a missing folder is fine


def test_atomic_file_keeps_the_previous_output_on_a_full_disk(tmp_path: Path) -> None:
    out = tmp_path / "out.npz"
    out.write_bytes(PREVIOUS)
    with pytest.raises(OSError) as caught, atomic_file(out) as tmp:
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert caught.value.filename == str(out)
    assert out.read_bytes() == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]


def test_atomic_folder_replaces_only_on_success(tmp_path: Path) -> None:
    out = tmp_path / "index"
    out.mkdir()
    (out / "old").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        (tmp / "new").write_text("new")
        raise RuntimeError("killed")
    assert [p.name for p in out.iterdir()] == ["old"]
    with atomic_folder(out) as tmp:
        (tmp / "new").write_text("new")
    assert [p.name for p in out.iterdir()] == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


@pytest.mark.backbones
def test_embed_on_a_full_disk_keeps_the_previous_output(tmp_path: Path, clip: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "mine.npy"
    out.write_bytes(PREVIOUS)

    def disk_full(handle: object, *_: object, **__: object) -> None:
        handle.write(b"\x93NUMPY partial")  # type: ignore[attr-defined]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", disk_full)
    code, stderr = run("embed", str(clip), "--out", str(out), "--force")
    assert_refused(code, stderr, out, PREVIOUS)
    assert "No space left on device" in stderr and "mine.npy" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.wav", "mine.npy"]


@pytest.mark.backbones
def test_embed_with_force_replaces_the_output(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "mine.npy"
    out.write_bytes(PREVIOUS)
    code, _ = run("embed", str(clip), "--out", str(out), "--force")
    assert code == 0
    assert np.load(out).shape == (1, 512)
