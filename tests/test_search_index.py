"""The index that follows a collection: add/update/remove/watch by size+mtime, SQLite metadata and tags,
hybrid ranking, search by text/audio/item, filters, and exact vs approximate (IVF) vector search."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from app_factory import make_tiny_clap, write_clips
from auralign.apps.search_index import KEYWORD_WEIGHT, SearchIndex, build_index
from auralign.apps.vector_store import VectorStore, exact_top_k, recall_at_k
from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    return make_tiny_clap(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def cache(model, tmp_path: Path) -> FeatureCache:
    return FeatureCache(model.audio_encoder, root=tmp_path / "features")


def test_update_reembeds_only_changed_files(model, cache: FeatureCache, tmp_path: Path) -> None:
    clips = write_clips(tmp_path / "lib" / "tones", 12)
    index = SearchIndex.create(tmp_path / "index", "tiny", 16)
    first = index.update(model, cache, tmp_path / "lib")
    assert len(first.added) == 12 and index.ntotal == 12
    index.save()
    again = SearchIndex.load(tmp_path / "index")
    assert again.update(model, cache, tmp_path / "lib").summary() == "0 added, 0 changed, 0 removed, 12 unchanged, 0 failed"
    write_clips(tmp_path / "spare", 13)[12].replace(clips[3])  # content changes: size/mtime differ
    os.utime(clips[5], ns=(1, 1))  # touched
    clips[7].unlink()
    write_clips(tmp_path / "lib" / "tones" / "new", 1)
    report = again.update(model, cache, tmp_path / "lib")
    assert sorted(p.name for p in report.changed) == ["tone_03.wav", "tone_05.wav"]
    assert [p.name for p in report.added] == ["tone_00.wav"] and len(report.removed) == 1
    assert report.unchanged == 9 and again.ntotal == 12
    again.save()
    reloaded = SearchIndex.load(tmp_path / "index")
    assert reloaded.ntotal == 12 and str(clips[7].resolve()) not in reloaded.catalog.files_under("/")
    assert reloaded.remove(tmp_path / "lib" / "tones" / "new") == 1 and reloaded.ntotal == 11


def test_hybrid_ranking_filters_and_item_search(model, cache: FeatureCache, tmp_path: Path) -> None:
    write_clips(tmp_path / "lib" / "misc", 6)
    (tmp_path / "lib" / "doors").mkdir()
    door = write_clips(tmp_path / "tmp", 7)[6].rename(tmp_path / "lib" / "doors" / "door_slam.wav")
    rows = [ManifestRow(audio=p) for p in sorted((tmp_path / "lib").rglob("*.wav"))]
    rows[0].labels = ["rain"]
    index, failures = build_index(model, rows, cache, "tiny", tmp_path / "index", progress=False)
    assert not failures and index.ntotal == 7
    hits = index.search_text(model, "door slam", k=3)
    assert hits[0].item["name"] == "door_slam.wav"
    assert hits[0].score == pytest.approx(hits[0].vector_score + KEYWORD_WEIGHT * 1.0)
    assert hits[0].item["folder"] == "lib/doors" and hits[0].keyword_score == 1.0
    only = index.search_text(model, "anything", k=10, folder="lib/misc")
    assert len(only) == 6 and {h.item["folder"] for h in only} == {"lib/misc"}
    tagged = index.search_text(model, "anything", k=10, tag="rain")
    assert [h.item["path"] for h in tagged] == [str(Path(rows[0].audio).resolve())]
    like = index.similar(hits[0].item["id"], k=10)
    assert hits[0].item["id"] not in [h.item["id"] for h in like] and len(like) == 6
    assert [h.score for h in like] == sorted((h.score for h in like), reverse=True)
    by_audio = {h.item["name"]: h.score for h in index.search_audio(model, cache, door, k=7)}
    assert by_audio["door_slam.wav"] == pytest.approx(1.0, abs=1e-4) == max(by_audio.values())


def test_auto_tags_are_stored_with_scores(model, cache: FeatureCache, tmp_path: Path) -> None:
    rows = [ManifestRow(audio=p) for p in write_clips(tmp_path / "lib", 4)]
    index, _ = build_index(model, rows, cache, "tiny", tmp_path / "index", progress=False)
    assert index.tag(model, ["dog", "rain", "car"], top_k=2, min_score=0.0) == 4
    index.save()
    items = SearchIndex.load(tmp_path / "index").catalog.items([1, 2, 3, 4])
    for item in items.values():
        assert len(item["tags"]) == 2 and {t["source"] for t in item["tags"]} == {"auto"}
        assert 0.0 < item["tags"][1]["score"] <= item["tags"][0]["score"] <= 1.0


def test_large_stores_switch_to_ivf_with_high_recall() -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((300, 32)).astype(np.float32)
    vectors = centres[rng.integers(0, 300, 6000)] + 0.3 * rng.standard_normal((6000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(10, 6010, dtype=np.int64)
    store = VectorStore.empty(32)
    store.add(ids, vectors)
    store.optimise(ids, exact_limit=5000)
    assert store.kind == "ivf" and store.nprobe is not None
    queries = vectors[:100] + 0.05 * rng.standard_normal((100, 32)).astype(np.float32)
    assert recall_at_k(store.search(queries, 10)[1], exact_top_k(vectors, ids, queries, 10)) >= 0.95
    store.remove(ids[:4000])
    assert store.ntotal == 2000 and np.allclose(store.vectors(ids[4000:4005]), vectors[4000:4005])
    store.optimise(ids[4000:], exact_limit=5000)
    assert store.kind == "exact" and store.ntotal == 2000


def test_cli_add_update_watch_tag_search(model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import auralign.models.factory as factory
    from auralign.cli.main import app

    monkeypatch.setattr(factory, "load_model", lambda name="tiny": model)
    monkeypatch.setenv("AURALIGN_HOME", str(tmp_path / "home"))
    clips = write_clips(tmp_path / "lib", 5)
    runner = CliRunner()
    index = str(tmp_path / "index")
    result = runner.invoke(app, ["index", "add", str(tmp_path / "lib"), "--index", index, "--model", "tiny"])
    assert result.exit_code == 0, result.output
    assert "added 5 clips" in result.stderr
    os.utime(clips[0], ns=(5, 5))
    result = runner.invoke(app, ["index", "update", str(tmp_path / "lib"), "--index", index, "--json"])
    report = json.loads(result.stdout)[str(tmp_path / "lib")]
    assert [Path(p).name for p in report["changed"]] == ["tone_00.wav"] and report["unchanged"] == 4
    clips[1].unlink()
    result = runner.invoke(app, ["index", "watch", str(tmp_path / "lib"), "--index", index, "--rounds", "1"])
    assert result.exit_code == 0 and "1 removed" in result.stderr
    labels = tmp_path / "labels.txt"
    labels.write_text("dog\nrain\n# comment\ncar horn\n")
    assert runner.invoke(app, ["index", "tag", "--index", index, "--labels", str(labels)]).exit_code == 0
    result = runner.invoke(app, ["search", index, "tone", "--json", "-k", "2"])
    hits = json.loads(result.stdout)["hits"]
    assert len(hits) == 2 and hits[0]["tags"]
    result = runner.invoke(app, ["search", index, "--like", str(hits[0]["id"]), "--json"])
    assert len(json.loads(result.stdout)["hits"]) == 3
    result = runner.invoke(app, ["search", index, "--audio", str(clips[2]), "-k", "1", "--json"])
    (hit,) = json.loads(result.stdout)["hits"]  # the tiny random encoder barely tells the tones apart (cosines
    assert hit["score"] == pytest.approx(1.0, abs=1e-4)  # agree to 1e-5): which one ranks first is a tie
    assert Path(hit["path"]).parent == tmp_path / "lib"
    assert runner.invoke(app, ["index", "remove", str(tmp_path / "lib"), "--index", index]).exit_code == 0
    assert "added 1 clips; the index holds 1" in runner.invoke(app, ["index", "add", str(clips[3]), "--index", index]).stderr


def test_page_api_search_play_with_range_and_thumbnails(model, cache: FeatureCache, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from app_factory import wav_bytes
    from auralign.apps.server import create_app

    rows = [ManifestRow(audio=p, labels=["tone"]) for p in write_clips(tmp_path / "lib", 4)]
    index, _ = build_index(model, rows, cache, "tiny", tmp_path / "index", progress=False)
    client = TestClient(create_app(model, "tiny", index))
    assert "<title>auralign sound library</title>" in client.get("/").text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/../server.py").status_code == 404
    hits = client.get("/api/search", params={"q": "tone", "k": 3, "tag": "tone"}).json()["hits"]
    assert len(hits) == 3 and {"id", "score", "name", "path", "folder", "tags", "caption"} <= hits[0].keys()
    audio = client.get(hits[0]["audio_url"], headers={"Range": "bytes=10-19"})
    assert audio.status_code == 206 and audio.content == Path(hits[0]["path"]).read_bytes()[10:20]
    assert audio.headers["content-type"] == "audio/wav"
    thumb = client.get(hits[0]["thumb_url"])
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")
    assert client.get("/api/items/999/audio").status_code == 404
    assert client.get("/api/items/..%2F..%2Fetc%2Fpasswd/audio").status_code in (404, 422)
    like = client.get(f"/api/items/{hits[0]['id']}/similar").json()["hits"]
    assert len(like) == 3 and hits[0]["id"] not in [h["id"] for h in like]
    by_example = client.post("/api/search/audio", files={"audio": ("x.wav", wav_bytes(), "audio/wav")}).json()
    assert len(by_example["hits"]) == 4
    empty = client.post("/api/search/audio", files={"audio": ("x.wav", b"", "audio/wav")})
    assert empty.status_code == 422 and empty.json()["detail"] == "cannot use this audio: empty file"
    facets = client.get("/api/facets").json()
    assert facets["folders"] == [{"name": "lib", "count": 4}] and facets["tags"][0]["name"] == "tone"
