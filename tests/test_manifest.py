"""Manifests: CSV/TSV/JSONL round trips, path resolution, user errors, folders, label vocabularies."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auralign.data.manifest import (
    ManifestRow,
    label_vocabulary,
    read_manifest,
    rows_from_folder,
    write_manifest,
)
from auralign.errors import AuralignError


def sample_rows(folder: Path) -> list[ManifestRow]:
    return [
        ManifestRow(audio=folder / "clips" / "dog.wav", labels=["dog", "bark"],
                    captions=["a dog barks", "a puppy, then silence", "woof"], split="train", group="rec1",
                    id="dog-1", extra={"source": "field", "license": "CC0"}),
        ManifestRow(audio=folder / "clips" / "rain.flac", labels=["rain"], captions=["rain on a roof"],
                    split="test", group="rec2", id="rain-1", extra={"source": "studio"}),
        ManifestRow(audio=folder / "bird.ogg", id="bird"),
    ]


def as_tuple(row: ManifestRow) -> tuple:
    return (row.id, row.audio.resolve(), row.labels, row.captions, row.split, row.group, row.extra)


@pytest.mark.parametrize("name", ["manifest.csv", "manifest.jsonl"])
def test_write_then_read_round_trips(tmp_path: Path, name: str) -> None:
    rows = sample_rows(tmp_path)
    path = write_manifest(rows, tmp_path / name)
    assert [as_tuple(row) for row in read_manifest(path)] == [as_tuple(row) for row in rows]


def test_csv_layout_is_semicolon_labels_and_numbered_captions(tmp_path: Path) -> None:
    path = write_manifest(sample_rows(tmp_path), tmp_path / "manifest.csv")
    header, first, *_ = path.read_text().splitlines()
    assert header == "id,audio,labels,split,group,caption_1,caption_2,caption_3,license,source"
    assert first == 'dog-1,clips/dog.wav,dog;bark,train,rec1,a dog barks,"a puppy, then silence",woof,CC0,field'


def test_jsonl_writes_paths_relative_to_the_manifest_when_possible(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "x.wav"
    rows = [ManifestRow(audio=tmp_path / "data" / "a.wav", id="a"), ManifestRow(audio=elsewhere, id="x")]
    path = write_manifest(rows, tmp_path / "data" / "manifest.jsonl")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records == [{"id": "a", "audio": "a.wav"}, {"id": "x", "audio": str(elsewhere.resolve())}]


def test_relative_paths_resolve_against_the_manifest_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "m.jsonl").write_text(json.dumps({"audio": "sub/a.wav"}) + "\n"
                                    + json.dumps({"audio": "/abs/b.wav"}) + "\n")
    (folder / "m.csv").write_text("audio\nsub/a.wav\n/abs/b.wav\n")
    monkeypatch.chdir(tmp_path)
    for name in ("m.jsonl", "m.csv"):
        rows = read_manifest(Path("corpus") / name)
        assert [row.audio.resolve() for row in rows] == [(folder / "sub" / "a.wav").resolve(), Path("/abs/b.wav")]
        assert [row.id for row in rows] == ["sub/a.wav", "/abs/b.wav"]  # id defaults to the path as written


def test_csv_reading_details(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("audio,labels,caption,caption_10,caption_2,split,group,note\n"
                    "a.wav, dog ; bark ;, first , tenth, second ,train,,kept\n"
                    "b.wav,,,,,,,\n")
    first, second = read_manifest(path)
    assert first.labels == ["dog", "bark"]
    assert first.captions == ["first", "second", "tenth"]  # `caption` first, then caption_N by number
    assert (first.split, first.group, first.extra) == ("train", None, {"note": "kept"})
    assert (second.labels, second.captions, second.split, second.extra) == ([], [], None, {})


def test_tsv_is_read_with_tabs(tmp_path: Path) -> None:
    path = tmp_path / "m.tsv"
    path.write_text("audio\tlabels\na, b.wav\tx;y\n")
    (row,) = read_manifest(path)
    assert row.audio.name == "a, b.wav" and row.labels == ["x", "y"]


def test_jsonl_accepts_single_caption_and_string_labels(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"audio": "a.wav", "caption": "one", "labels": "x; y", "group": 7, "mood": "calm"})
                    + "\n\n")
    (row,) = read_manifest(path)
    assert (row.captions, row.labels, row.group, row.extra) == (["one"], ["x", "y"], "7", {"mood": "calm"})


def test_split_filter(tmp_path: Path) -> None:
    path = write_manifest(sample_rows(tmp_path), tmp_path / "m.jsonl")
    assert [row.id for row in read_manifest(path, split="test")] == ["rain-1"]
    with pytest.raises(AuralignError, match="no rows in split 'val'"):
        read_manifest(path, split="val")


@pytest.mark.parametrize(("name", "content", "message"), [
    ("m.jsonl", '{"audio": "a.wav"}\n{"audio": "b.wav",\n', r"m\.jsonl:2: invalid JSON"),
    ("m.jsonl", '{"audio": "a.wav"}\n\n{"labels": ["x"]}\n', r"m\.jsonl:3: each row needs an 'audio' path"),
    ("m.jsonl", '["a.wav"]\n', r"m\.jsonl:1: each row needs an 'audio' path"),
    ("m.csv", "path,labels\na.wav,x\n", r"m\.csv: the header needs an 'audio' column"),
    ("m.csv", "audio,labels\na.wav,x\n ,y\n", r"m\.csv:3: empty 'audio' value"),
    ("m.csv", "", r"m\.csv: the header needs an 'audio' column"),
    ("m.jsonl", "\n\n", r"m\.jsonl: no rows"),
    ("m.txt", "audio\na.wav\n", r"must be \.csv, \.tsv or \.jsonl"),
])
def test_malformed_manifests_name_file_and_line(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(AuralignError, match=message):
        read_manifest(tmp_path / name)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(AuralignError, match="manifest not found"):
        read_manifest(tmp_path / "nope.csv")


def test_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    write_manifest(sample_rows(tmp_path), tmp_path / "out" / "m.csv")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["m.csv"]


def test_rows_from_folder_labels_from_sub_folders(tmp_path: Path) -> None:
    for relative in ["dog_bark/1.wav", "dog_bark/deeper/2.FLAC", "rain/3.ogg", "loose.mp3", "rain/notes.txt"]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"")
    rows = rows_from_folder(tmp_path)
    assert [(row.id, row.labels) for row in rows] == [
        ("dog_bark/1.wav", ["dog bark"]),
        ("dog_bark/deeper/2.FLAC", ["dog bark"]),
        ("loose.mp3", []),
        ("rain/3.ogg", ["rain"]),
    ]
    assert all(row.audio.is_file() for row in rows)


def test_rows_from_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(AuralignError, match="not a folder"):
        rows_from_folder(tmp_path / "missing")
    (tmp_path / "readme.txt").write_text("no audio here")
    with pytest.raises(AuralignError, match="no audio files"):
        rows_from_folder(tmp_path)


def test_label_vocabulary_is_sorted_and_unique(tmp_path: Path) -> None:
    rows = [ManifestRow(audio=tmp_path / "a.wav", labels=["rain", "dog"]),
            ManifestRow(audio=tmp_path / "b.wav", labels=["dog"]), ManifestRow(audio=tmp_path / "c.wav")]
    assert label_vocabulary(rows) == ["dog", "rain"]
    assert label_vocabulary([]) == []


# Texts a manifest must carry unchanged: no leading/trailing spaces (CSV cells are stripped) and, for
# labels, no ';' (the CSV label separator).
_TEXT = st.text(string.ascii_letters + string.digits + " ,.'\"-é", min_size=1, max_size=12).map(str.strip).filter(bool)
_ROW = st.builds(
    lambda name, labels, captions, split, group: ManifestRow(audio=Path(f"clips/{name}.wav"), labels=labels,
                                                             captions=captions, split=split, group=group),
    st.text(string.ascii_lowercase, min_size=1, max_size=8),
    st.lists(_TEXT, max_size=3), st.lists(_TEXT, max_size=3),
    st.sampled_from([None, "train", "test"]), st.one_of(st.none(), _TEXT),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_ROW, min_size=1, max_size=5), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_any_rows_round_trip(tmp_path: Path, rows: list[ManifestRow], suffix: str) -> None:
    rows = [ManifestRow(audio=tmp_path / row.audio, labels=row.labels, captions=row.captions, split=row.split,
                        group=row.group, id=str(row.audio)) for row in rows]
    path = write_manifest(rows, tmp_path / f"m{suffix}")
    assert [as_tuple(row) for row in read_manifest(path)] == [as_tuple(row) for row in rows]
