"""WebDataset shards: write a manifest's clips, read them back (whole, resampled, split across ranks
and workers), unpack them, and the `auralign data shards` command."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer
from torch.utils.data import DataLoader
from typer.testing import CliRunner

from auralign.audio.io import load_audio
from auralign.cli.shards_cmd import shards
from auralign.data.manifest import ManifestRow, read_manifest, write_manifest
from auralign.data.shards import (
    ShardAudioDataset,
    ShardSample,
    extract_shards,
    iter_shard_samples,
    write_shards,
)
from auralign.errors import AudioLoadError, AuralignError
from data_factory import tone, write_bad

# (name, rate, channels, soundfile options): a 16-bit source, a float source, a FLAC source.
CLIP_SPECS = [
    ("mono_16k.wav", 16000, 1, {"subtype": "PCM_16"}),
    ("stereo_22k.wav", 22050, 2, {"subtype": "FLOAT"}),
    ("mono_8k.flac", 8000, 1, {}),
]


def make_rows(folder: Path, n: int) -> list[ManifestRow]:
    """`n` short clips cycling through CLIP_SPECS, each with its own id, labels, captions and fields."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        name, rate, channels, options = CLIP_SPECS[i % len(CLIP_SPECS)]
        path = folder / f"{i:02d}_{name}"
        sf.write(path, tone(0.25, rate, channels, frequency=300.0 + 40 * i), rate, **options)
        rows.append(ManifestRow(audio=path, labels=[f"class {i % 3}", "tone"], captions=[f"tone number {i}", "a beep"],
                                split="train" if i % 2 else "test", group=f"g{i // 2}", id=f"clips/{i}.v1.wav",
                                extra={"source_db": "synthetic", "index": str(i)}))
    return rows


def samples_by_id(source: Path, **kwargs: object) -> dict[str, ShardSample]:
    return {sample.id: sample for sample in iter_shard_samples(source, **kwargs)}


def members_per_shard(shard_paths: list[Path]) -> list[int]:
    with_names = []
    for path in shard_paths:
        with tarfile.open(path) as tar:
            with_names.append(len(tar.getnames()))
    return with_names


def test_round_trip_keeps_metadata_and_audio(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 6)
    written = write_shards(rows, tmp_path / "shards")
    assert [p.name for p in written] == ["shard-000000.tar"]

    read = samples_by_id(tmp_path / "shards")
    assert list(read) == [row.id for row in rows]
    for row in rows:
        sample = read[row.id]
        assert (sample.labels, sample.captions, sample.split, sample.group, sample.extra) == (
            row.labels, row.captions, row.split, row.group, row.extra)
        rate = sf.info(str(row.audio)).samplerate
        expected = load_audio(row.audio, rate)
        assert sample.sample_rate == rate
        assert sample.audio.dtype == np.float32 and sample.audio.shape == expected.shape
        # 16-bit sources come back exactly; float sources through 24-bit FLAC within ~1e-7
        np.testing.assert_allclose(sample.audio, expected, atol=2e-5)


def test_flac_keeps_each_clip_rate_and_channels(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 3)
    write_shards(rows, tmp_path / "shards")
    manifest = extract_shards(tmp_path / "shards", tmp_path / "unpacked")
    for original, unpacked in zip(rows, read_manifest(manifest), strict=True):
        assert unpacked.audio.suffix == ".flac"
        before, after = sf.info(str(original.audio)), sf.info(str(unpacked.audio))
        assert (after.samplerate, after.channels, after.frames) == (before.samplerate, before.channels, before.frames)


def test_read_resampled_to_a_target_rate(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 3)
    write_shards(rows, tmp_path / "shards")
    for row in rows:
        sample = samples_by_id(tmp_path / "shards", sample_rate=11025)[row.id]
        expected = load_audio(row.audio, 11025)
        assert sample.sample_rate == 11025
        assert sample.audio.shape == expected.shape
        np.testing.assert_allclose(sample.audio, expected, atol=1e-3)


def test_original_encoding_stores_the_file_bytes(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 3)
    write_shards(rows, tmp_path / "shards", encode_audio="original")
    unpacked = read_manifest(extract_shards(tmp_path / "shards", tmp_path / "unpacked"))
    assert [row.id for row in unpacked] == [row.id for row in rows]
    for original, copy in zip(rows, unpacked, strict=True):
        assert copy.audio.suffix == original.audio.suffix
        assert copy.audio.read_bytes() == original.audio.read_bytes()
        assert (copy.labels, copy.captions, copy.split, copy.group) == (
            original.labels, original.captions, original.split, original.group)


def test_shards_split_by_count(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 7)
    written = write_shards(rows, tmp_path / "shards", max_count=3)
    assert [p.name for p in written] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    assert members_per_shard(written) == [6, 6, 2]  # audio + json per clip
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == [p.name for p in written]  # no .tmp left
    assert list(samples_by_id(tmp_path / "shards")) == [row.id for row in rows]


def test_shards_split_by_size(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 4)
    written = write_shards(rows, tmp_path / "shards", max_size=1)
    assert len(written) == 4


def test_read_from_brace_pattern_and_list(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 5)
    written = write_shards(rows, tmp_path / "shards", max_count=2)
    pattern = str(tmp_path / "shards" / "shard-{000000..000002}.tar")
    ids = [row.id for row in rows]
    assert list(samples_by_id(pattern)) == ids
    assert list(samples_by_id(written)) == ids  # type: ignore[arg-type]


def test_bad_clips_are_reported_and_left_out(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 2)
    bad = [ManifestRow(audio=path) for path in write_bad(tmp_path / "bad")]
    failures: list[tuple[str, str]] = []
    write_shards(rows + bad, tmp_path / "shards", on_failure=lambda path, reason: failures.append((path, reason)))
    assert [path for path, _ in failures] == [str(row.audio) for row in bad]
    assert all(reason for _, reason in failures)
    assert list(samples_by_id(tmp_path / "shards")) == [row.id for row in rows]


def test_bad_clip_raises_without_a_failure_handler(tmp_path: Path) -> None:
    rows = [*make_rows(tmp_path / "clips", 1), ManifestRow(audio=tmp_path / "missing.wav")]
    with pytest.raises(AudioLoadError, match=r"missing\.wav: file not found"):
        write_shards(rows, tmp_path / "shards")


def test_only_bad_clips_write_no_shard(tmp_path: Path) -> None:
    bad = [ManifestRow(audio=path) for path in write_bad(tmp_path / "bad")]
    assert write_shards(bad, tmp_path / "shards", on_failure=lambda path, reason: None) == []
    assert list((tmp_path / "shards").iterdir()) == []


def test_refuses_a_folder_that_already_holds_shards(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 1)
    write_shards(rows, tmp_path / "shards")
    with pytest.raises(AuralignError, match="already holds shards"):
        write_shards(rows, tmp_path / "shards")


def test_reading_an_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AuralignError, match="no shards"):
        list(iter_shard_samples(tmp_path))


def test_ranks_and_workers_read_disjoint_shards_covering_everything(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = make_rows(tmp_path / "clips", 10)
    write_shards(rows, tmp_path / "shards", max_count=2)  # 5 shards for 2 ranks x 2 workers
    seen: list[str] = []
    per_process = []
    for rank in range(2):
        for worker in range(2):
            # webdataset reads rank/world size and worker/count from these variables when set
            monkeypatch.setenv("RANK", str(rank))
            monkeypatch.setenv("WORLD_SIZE", "2")
            monkeypatch.setenv("WORKER", str(worker))
            monkeypatch.setenv("NUM_WORKERS", "2")
            ids = list(samples_by_id(tmp_path / "shards"))
            per_process.append(ids)
            seen += ids
    assert sorted(seen) == sorted(row.id for row in rows)
    assert len(seen) == len(set(seen))
    assert all(per_process[:3])  # 5 shards over 4 processes: only one process may get a single shard


def keep_as_is(sample: ShardSample) -> ShardSample:
    """A picklable no-op collate function, so workers also start under spawn/forkserver."""
    return sample


def test_dataloader_workers_share_the_shards(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 6)
    write_shards(rows, tmp_path / "shards", max_count=1)
    dataset = ShardAudioDataset(tmp_path / "shards", sample_rate=8000)
    loader = DataLoader(dataset, batch_size=None, num_workers=2, collate_fn=keep_as_is)
    ids = [sample.id for sample in loader]
    assert sorted(ids) == sorted(row.id for row in rows)
    assert len(ids) == len(set(ids))


def test_dataset_without_splitters_reads_everything_on_any_rank(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = make_rows(tmp_path / "clips", 4)
    write_shards(rows, tmp_path / "shards", max_count=1)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    split = [s.id for s in ShardAudioDataset(tmp_path / "shards")]
    whole = [s.id for s in ShardAudioDataset(tmp_path / "shards", nodesplitter=None)]
    assert len(split) == 2
    assert whole == [row.id for row in rows]


def test_undecodable_sample_is_named(tmp_path: Path) -> None:
    shard = tmp_path / "shard-000000.tar"
    with tarfile.open(shard, "w") as tar:
        for name, data in [("000000000.flac", b"not flac at all"), ("000000000.json", b'{"id": "x"}')]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(AudioLoadError, match=r"shard-000000\.tar#000000000: cannot decode"):
        list(iter_shard_samples(tmp_path))
    failures: list[tuple[str, str]] = []
    assert list(iter_shard_samples(tmp_path, on_failure=lambda name, reason: failures.append((name, reason)))) == []
    assert len(failures) == 1


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(shards)
    return app


def test_cli_writes_shards_and_lists_failures(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 5) + [ManifestRow(audio=path) for path in write_bad(tmp_path / "bad")]
    manifest = write_manifest(rows, tmp_path / "manifest.jsonl")
    result = CliRunner().invoke(_cli(), [str(manifest), str(tmp_path / "out"), "--max-count", "2"])
    assert result.exit_code == 0, result.output
    assert "wrote 5 clips in 3 shards" in result.output
    assert result.output.count("failed:") == 5
    assert "Traceback" not in result.output
    assert len(list((tmp_path / "out").glob("shard-*.tar"))) == 3


def test_cli_exits_1_when_nothing_could_be_written(tmp_path: Path) -> None:
    manifest = write_manifest([ManifestRow(audio=path) for path in write_bad(tmp_path / "bad")],
                              tmp_path / "manifest.jsonl")
    result = CliRunner().invoke(_cli(), [str(manifest), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_cli_strict_exits_1_on_any_failure(tmp_path: Path) -> None:
    rows = [*make_rows(tmp_path / "clips", 2), ManifestRow(audio=tmp_path / "missing.wav")]
    manifest = write_manifest(rows, tmp_path / "manifest.jsonl")
    result = CliRunner().invoke(_cli(), [str(manifest), str(tmp_path / "out"), "--strict"])
    assert result.exit_code == 1
    assert "missing.wav: file not found" in result.output
