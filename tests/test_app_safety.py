"""The server is safe by default: token, body and duration limits, label/text bounds, bounded cache,
no CORS, uploads never stored under the client's name, JSON errors only (plus hypothesis fuzzing)."""

from __future__ import annotations

import asyncio
import inspect
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app_factory import make_tiny_clap, wav_bytes
from auralign.apps.limits import MAX_LABEL_CHARS, MAX_LABELS, ServerLimits, check_bind
from auralign.apps.middleware import BodyLimit
from auralign.apps.server import create_app
from auralign.errors import AuralignError

TOKEN = "s3cret-token"
LIMITS = ServerLimits(max_upload_bytes=200_000, max_body_bytes=4096, max_seconds=3.0, cache_entries=2)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    return make_tiny_clap(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def client(model):
    app = create_app(model, "tiny", limits=LIMITS)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def classify(client: TestClient, audio: bytes = b"", labels: str = "dog, rain", top_k: object = 1,
             name: str = "a.wav", **kwargs):
    return client.post("/classify", files={"audio": (name, audio or wav_bytes(), "audio/wav")},
                       data={"labels": labels, "top_k": str(top_k)}, **kwargs)


def test_token_is_required_on_every_route_when_set(model) -> None:
    client = TestClient(create_app(model, "tiny", token=TOKEN, limits=LIMITS))
    for method, path in (("get", "/health"), ("get", "/docs"), ("get", "/openapi.json"), ("post", "/search"),
                         ("get", "/nothing-here")):
        reply = getattr(client, method)(path)
        assert reply.status_code == 401 and "token" in reply.json()["detail"], path
    assert client.get("/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/health", headers={"Authorization": f"Bearer {TOKEN}"}).json()["status"] == "ok"
    assert classify(client, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    first = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert first.status_code == 303 and "HttpOnly" in first.headers["set-cookie"]
    assert client.get("/health").status_code == 200  # the cookie now carries the token


def test_non_loopback_host_needs_a_token_or_insecure() -> None:
    check_bind("127.0.0.1", None, False)
    check_bind("::1", None, False)
    check_bind("localhost", None, False)
    check_bind("0.0.0.0", "t", False)
    check_bind("0.0.0.0", None, True)
    with pytest.raises(AuralignError, match="--token"):
        check_bind("0.0.0.0", None, False)


def test_no_cors_headers(client: TestClient) -> None:
    reply = client.options("/classify", headers={"Origin": "http://evil.example",
                                                 "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in reply.headers
    assert "access-control-allow-origin" not in client.get("/health", headers={"Origin": "http://e"}).headers


def test_body_limits(client: TestClient) -> None:
    reply = classify(client, audio=b"RIFF" + bytes(LIMITS.max_upload_bytes + 10))
    assert reply.status_code == 413 and "larger than" in reply.json()["detail"]
    reply = client.post("/embed/text", json={"texts": ["x" * 900] * 10})
    assert reply.status_code == 413


def test_body_limit_stops_reading_a_streamed_body() -> None:
    """Without a Content-Length, the body is refused as soon as it passes the limit; the rest is never read."""
    reads = 0

    async def receive() -> dict:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": reads < 1000}

    async def app(scope, receive, send) -> None:
        while (await receive()).get("more_body"):
            pass

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/classify",
             "headers": [(b"content-type", b"multipart/form-data; boundary=x")]}
    asyncio.run(BodyLimit(app, upload_bytes=5000, body_bytes=100)(scope, receive, send))
    assert sent[0]["status"] == 413 and reads == 6


def test_duration_limit_from_the_header(client: TestClient) -> None:
    buffer = io.BytesIO()
    sf.write(buffer, np.full(8000 * 5, 0.1, dtype=np.float32), 8000, format="FLAC")  # 5 s > 3 s
    reply = classify(client, audio=buffer.getvalue(), name="long.flac")
    assert reply.status_code == 413 and "longer than" in reply.json()["detail"]


@pytest.mark.parametrize("name", ["../../etc/passwd.wav", ".", "..", "x" * 300 + ".wav", "a/b\\c.wav", "é 名前.WAV"])
def test_upload_names_are_never_used_for_storage(client: TestClient, name: str) -> None:
    reply = classify(client, name=name)
    assert reply.status_code == 200, reply.text
    assert list(Path(client.app.state.workdir.name).iterdir()) == []  # nothing left behind either


@pytest.mark.parametrize(("labels", "top_k", "message"), [
    (", ".join(f"l{i}" for i in range(MAX_LABELS + 1)), 1, "at most"),
    ("," * 5000, 1, "at most"),
    ("dog, " + "y" * (MAX_LABEL_CHARS + 1), 1, "characters"),
    ("dog", 1, "at least two"),
    ("dog, dog", 1, "distinct"),
    ("dog, rain", 0, "top_k"),
    ("dog, rain", -1, "top_k"),
    ("dog, rain", 3, "top_k"),
    ("dog, rain", "many", "top_k"),
])
def test_label_and_top_k_bounds(client: TestClient, labels: str, top_k: object, message: str) -> None:
    reply = classify(client, labels=labels, top_k=top_k)
    assert reply.status_code == 422 and message in reply.json()["detail"]


def test_text_bounds(client: TestClient) -> None:
    assert client.post("/embed/text", json={"texts": ["a"] * 257}).status_code == 422
    reply = client.post("/embed/text", json={"texts": ["a" * 1001]})
    assert reply.status_code == 422 and "1000 characters" in reply.json()["detail"]
    assert client.post("/embed/text", content=b"{not json", headers={"content-type": "application/json"}
                       ).status_code == 422


def test_feature_cache_is_bounded_and_removed_at_shutdown(model) -> None:
    app = create_app(model, "tiny", limits=LIMITS)
    with TestClient(app) as client:
        for frequency in (300.0, 500.0, 700.0):
            assert classify(client, audio=wav_bytes(frequency=frequency)).status_code == 200
        assert len(app.state.uploads) == LIMITS.cache_entries
        workdir = Path(app.state.workdir.name)
        assert workdir.is_dir()
    assert not workdir.exists() and len(app.state.uploads) == 0


def test_errors_are_json_without_traceback(model) -> None:
    app = create_app(model, "tiny", limits=LIMITS)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    client = TestClient(app, raise_server_exceptions=False)
    reply = client.get("/boom")
    assert reply.status_code == 500 and reply.json() == {"detail": "internal error (RuntimeError)"}
    reply = classify(client, audio=b"not audio at all")
    assert reply.status_code == 422 and reply.json()["detail"].startswith("cannot use this audio: not an audio file")
    assert client.get("/nothing").json() == {"detail": "Not Found"}


def test_inference_runs_in_the_threadpool_so_health_never_waits(client: TestClient) -> None:
    endpoints = {route.path: route.endpoint for route in client.app.routes if hasattr(route, "endpoint")}
    assert inspect.iscoroutinefunction(endpoints["/health"])
    for path in ("/classify", "/embed/text", "/search", "/caption", "/ask"):
        assert not inspect.iscoroutinefunction(endpoints[path]), path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(st.text(min_size=0, max_size=250), max_size=12).map(", ".join)
       | st.text(max_size=400), top_k=st.integers(-5, 20) | st.text(max_size=5))
def test_classify_validation_fuzz(client: TestClient, labels: str, top_k: object) -> None:
    reply = classify(client, labels=labels, top_k=top_k)
    assert reply.status_code in (200, 422), reply.text
    body = reply.json()
    if reply.status_code == 422:
        assert isinstance(body["detail"], str) and body["detail"]
    else:
        assert 1 <= len(body["top"]) <= len(body["labels"]) <= MAX_LABELS


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                         lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                  max_size=4), max_leaves=12)
       | st.fixed_dictionaries({"texts": st.lists(st.text(max_size=50), max_size=5)}))
def test_json_endpoints_validation_fuzz(client: TestClient, body: object) -> None:
    for path in ("/embed/text", "/search"):
        reply = client.post(path, json=body)
        assert reply.status_code in (200, 404, 422), (path, reply.text)
        assert isinstance(reply.json()["detail"] if reply.status_code != 200 else reply.json(), (str, dict))
