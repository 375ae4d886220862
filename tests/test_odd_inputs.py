"""Every path a user can name is handled: links, FIFOs, devices, folders named like audio, non-UTF-8 names,
truncated containers, non-finite audio; damaged weights, indexes and cache entries give one line."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from auralign.audio.io import find_audio_files, load_audio
from auralign.backbones.aisfx import AisfxEncoder
from auralign.cli.common import print_json, shown
from auralign.cli.main import app
from auralign.data.feature_cache import FeatureCache
from auralign.errors import AudioLoadError, CheckpointError
from auralign.tensors_io import load_tensors
from backbone_factory import make_tiny_aisfx
from data_factory import tone


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_aisfx(tmp_path_factory.mktemp("aisfx"))


def tiny_cache(weights: Path, root: Path) -> FeatureCache:
    return FeatureCache(AisfxEncoder.from_pretrained(weights), root=root)


def reason_of(path: Path) -> str:
    try:
        load_audio(path, 16000)
    except AudioLoadError as error:
        return error.reason
    return "ok"


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    sf.write(tmp_path / "good.wav", tone(0.5, 16000), 16000)
    os.mkfifo(tmp_path / "fifo.wav")
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "missing.wav")
    (tmp_path / "loop.wav").symlink_to(tmp_path / "loop.wav")
    (tmp_path / "folder.wav").mkdir()
    (tmp_path / "device.wav").symlink_to("/dev/zero")
    return tmp_path


def test_odd_entries_in_a_folder_are_listed_and_fail_with_a_reason(odd_folder: Path) -> None:
    files = find_audio_files([odd_folder])
    assert sorted(p.name for p in files) == ["dangling.wav", "device.wav", "fifo.wav", "folder.wav", "good.wav",
                                             "loop.wav"]
    reasons = {p.name: reason_of(p) for p in files}
    assert reasons == {"good.wav": "ok", "fifo.wav": "not a regular file (a named pipe)",
                       "dangling.wav": "dangling symbolic link", "loop.wav": "symbolic link loop",
                       "folder.wav": "not a regular file (a directory)", "device.wav": "not a regular file (a device)"}


def test_a_loop_named_on_the_command_line_is_kept_for_its_failure(odd_folder: Path) -> None:
    assert find_audio_files([odd_folder / "loop.wav", odd_folder / "good.wav"]) == [odd_folder / "loop.wav",
                                                                                   odd_folder / "good.wav"]


def test_a_non_utf8_name_decodes_and_is_cached(tmp_path: Path, tiny_weights: Path) -> None:
    name = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.wav"))
    sf.write(tmp_path / "plain.wav", tone(0.5, 16000), 16000)
    os.rename(tmp_path / "plain.wav", name)
    assert reason_of(name) == "ok"
    cache = tiny_cache(tiny_weights, tmp_path / "cache")
    assert cache.ensure([name], progress=False) == []
    assert cache.get(name).window_lengths
    assert shown(name).endswith("caf\\xe9.wav")


@pytest.mark.parametrize("fmt", [{"format": "AU"}, {"format": "AIFF"}, {"format": "W64"}, {"format": "RF64"},
                                 {"format": "OGG", "subtype": "OPUS"}, {"format": "OGG", "subtype": "VORBIS"}])
def test_truncated_containers_are_refused(tmp_path: Path, fmt: dict[str, str]) -> None:
    whole = tmp_path / "whole.bin"
    sf.write(whole, tone(1.0, 48000), 48000, **fmt)
    assert reason_of(whole) == "ok"
    cut = tmp_path / "cut.bin"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.9)])
    assert reason_of(cut).startswith("truncated")


def test_huge_but_finite_float_samples_give_a_non_finite_embedding_failure(tmp_path: Path,
                                                                           tiny_weights: Path) -> None:
    loud = tmp_path / "loud.wav"
    sf.write(loud, tone(0.5, 16000) * 1e30, 16000, subtype="FLOAT")
    cache = tiny_cache(tiny_weights, tmp_path / "cache")
    failures = cache.ensure([loud], progress=False)
    assert failures == [(loud, "non-finite embedding")]


def test_json_output_is_strict() -> None:
    with pytest.raises(ValueError):
        print_json({"score": float("nan")})


def test_a_damaged_cache_entry_is_recomputed_with_a_warning(tmp_path: Path, tiny_weights: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    clip = tmp_path / "clip.wav"
    sf.write(clip, tone(0.5, 16000), 16000)
    cache = tiny_cache(tiny_weights, tmp_path / "cache")
    expected = np.array(cache.get(clip).tokens)
    (token_file,) = cache.dir.glob("*/*.npy")
    token_file.write_bytes(token_file.read_bytes()[:100])
    reopened = tiny_cache(tiny_weights, tmp_path / "cache")
    np.testing.assert_array_equal(np.array(reopened.get(clip).tokens), expected)
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "recomputing" in warning[0]


def test_damaged_weights_name_the_file(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    weights = tmp_path / "model.safetensors"
    save_file({"w": torch.ones(64, 64)}, str(weights))
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: damaged weights file"):
        load_tensors(weights)


def test_a_damaged_search_index_is_one_line(tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    for name, content in [("vectors.faiss", b"IxF2" + b"\x00" * 7), ("items.jsonl", b""),
                          ("index.json", b'{"model": "clap", "dim": 512, "count": 1}')]:
        (index / name).write_bytes(content)
    result = CliRunner().invoke(app, ["search", str(index), "a dog"])
    assert result.exit_code == 1 and not isinstance(result.exception, RuntimeError)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "damaged search index" in errors[0]
    assert "Traceback" not in result.stderr
