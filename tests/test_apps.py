"""The search index and the HTTP server, on the shipped CLAP and a few FSDD recordings."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auralign.data.fsdd import fsdd_dir
from auralign.data.manifest import ManifestRow

pytestmark = pytest.mark.backbones


@pytest.fixture(scope="module")
def clap():
    from auralign.models.factory import load_model

    return load_model("clap-fsdd")


@pytest.fixture(scope="module")
def digit_rows() -> list[ManifestRow]:
    if not fsdd_dir().is_dir():
        pytest.skip("FSDD not found in ../shared/data")
    return [ManifestRow(audio=fsdd_dir() / f"{digit}_george_{take}.wav", labels=[str(digit)])
            for digit in (2, 6) for take in range(4)]


def test_index_round_trip_finds_the_spoken_word(clap, digit_rows, tmp_path: Path) -> None:
    from auralign.apps.search_index import SearchIndex, build_index
    from auralign.data.feature_cache import FeatureCache

    _, failures = build_index(clap, digit_rows, FeatureCache(clap.audio_encoder, root=tmp_path / "f"),
                              "clap-fsdd", tmp_path / "index", progress=False)
    assert not failures
    loaded = SearchIndex.load(tmp_path / "index")
    assert loaded.ntotal == len(digit_rows) and loaded.model_name == "clap-fsdd"
    for word, digit in (("two", "2"), ("six", "6")):
        hits = loaded.search_text(clap, f"a person saying the word {word}", k=4)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert sum([t["tag"] for t in h.item["tags"]] == [digit] for h in hits) >= 3


def test_index_refuses_a_folder_that_is_not_one(tmp_path: Path) -> None:
    from auralign.apps.search_index import SearchIndex
    from auralign.errors import AuralignError

    with pytest.raises(AuralignError, match="not a search index"):
        SearchIndex.load(tmp_path)


def test_server_classifies_an_upload_and_rejects_bad_input(clap, digit_rows) -> None:
    from fastapi.testclient import TestClient

    from auralign.apps.server import create_app

    client = TestClient(create_app(clap, "clap-fsdd"))
    assert client.get("/health").json()["model"] == "clap-fsdd"
    audio = Path(digit_rows[-1].audio).read_bytes()
    reply = client.post("/classify", files={"audio": ("six.wav", audio, "audio/wav")},
                        data={"labels": "zero, two, six, nine", "top_k": "2"})
    assert reply.status_code == 200
    top = reply.json()["top"]
    assert len(top) == 2 and 0.0 <= top[1]["score"] <= top[0]["score"] <= 1.0
    silent = io.BytesIO()
    sf.write(silent, np.zeros(8000, dtype=np.float32), 8000, format="WAV")
    reply = client.post("/classify", files={"audio": ("s.wav", silent.getvalue(), "audio/wav")},
                        data={"labels": "a, b", "top_k": "1"})
    assert reply.status_code == 422 and "silent" in reply.json()["detail"]
    assert client.post("/search", json={"query": "dog"}).status_code == 404
    assert client.post("/caption", files={"audio": ("six.wav", audio, "audio/wav")}).status_code == 400
    embedded = client.post("/embed/text", json={"texts": ["a dog", "rain"]}).json()["embeddings"]
    assert np.allclose(np.linalg.norm(np.array(embedded), axis=1), 1.0, atol=1e-4)
