"""Captions and answers on tiny random backbones: the server's `/caption` and `/ask` give what
`describe_files` gives (the one generation path), concurrent requests each get their own text, and
`auralign caption` loads its model once for many files, in fp32 or with the opt-in bf16 language model."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app_factory import make_tiny_clap, make_tiny_slit, write_clips
from auralign.apps.server import create_app
from auralign.backbones.factory import clear_backbone_cache
from auralign.cli.decoding import with_generation_precision
from auralign.cli.main import app as cli
from auralign.data.feature_cache import FeatureCache
from auralign.errors import AuralignError
from auralign.evaluation.captioning import describe_files
from auralign.models.slit import SlitModel

QUESTION = "What sound is this?"


@pytest.fixture(scope="module")
def backbones(tiny_backbones: dict[str, Path]) -> dict[str, Path]:
    return {"audio": tiny_backbones["aisfx"], "text": tiny_backbones["bert"], "llm": tiny_backbones["llama"]}


class TokenEcho:
    """A generator whose text names its input (instruction, valid tokens, their sum): the random tiny
    SLIT writes the same text for every clip, which cannot show that each request gets its own."""

    def __init__(self, audio_encoder) -> None:
        self.audio_encoder = audio_encoder
        self.rows_per_call: list[int] = []

    def eval(self) -> TokenEcho:
        return self

    def generate(self, tokens: torch.Tensor, mask: torch.Tensor, instruction: str | None = None,
                 decoding=None) -> list[str]:
        self.rows_per_call.append(len(tokens))
        return [f"{instruction} {int(m.sum())} {float(t[m].sum()):.4f}" for t, m in zip(tokens, mask, strict=True)]


@pytest.fixture(scope="module")
def slit(backbones: dict[str, Path]) -> SlitModel:
    clear_backbone_cache()
    return make_tiny_slit(backbones)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_clips(tmp_path_factory.mktemp("clips"), 4)


def expected_texts(model, clips: list[Path], tmp_path: Path, instruction: str | None = None) -> dict[Path, str]:
    texts, failures = describe_files(model, FeatureCache(model.audio_encoder, root=tmp_path), clips, instruction)
    assert not failures
    return dict(texts)


def post(client: TestClient, route: str, clip: Path, question: str | None = None) -> str:
    reply = client.post(route, files={"audio": (clip.name, clip.read_bytes(), "audio/wav")},
                        data={"question": question} if question else None)
    assert reply.status_code == 200, reply.text
    return reply.json()["text"]


def test_the_server_captions_and_answers_as_describe_files_does(slit, clips: list[Path], tmp_path: Path) -> None:
    captions = expected_texts(slit, clips, tmp_path / "a")
    answers = expected_texts(slit, clips, tmp_path / "b", QUESTION)
    with TestClient(create_app(slit, "tiny-slit")) as client:
        assert client.get("/health").json()["can_caption"] is True
        assert post(client, "/caption", clips[0]) == captions[clips[0]]
        assert post(client, "/ask", clips[1], QUESTION) == answers[clips[1]]


def test_concurrent_requests_each_get_their_own_text(slit, tmp_path: Path) -> None:
    clips = [write_clips(tmp_path / f"s{i}", 1, seconds)[0] for i, seconds in enumerate((0.5, 1.0, 1.5, 2.0))]
    echo = TokenEcho(slit.audio_encoder)
    captions = expected_texts(echo, clips, tmp_path / "a")
    answers = expected_texts(echo, clips, tmp_path / "b", QUESTION)
    assert len(set(captions.values())) == len(clips)
    echo.rows_per_call.clear()
    jobs = [("/caption", clip, None) for clip in clips] + [("/ask", clip, QUESTION) for clip in clips]
    with TestClient(create_app(slit, "tiny-slit", captioner=echo)) as client, ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(lambda job: post(client, *job), jobs))
    assert texts == [captions[c] for c in clips] + [answers[c] for c in clips]
    assert sum(echo.rows_per_call) == len(jobs)  # one row per request, however they were merged


def test_a_separate_captioner_serves_captions_beside_an_embedding_model(slit, clips: list[Path],
                                                                       tmp_path: Path) -> None:
    embedder = make_tiny_clap(tmp_path / "clap")
    assert embedder.audio_encoder is not slit.audio_encoder  # its own upload cache
    with TestClient(create_app(embedder, "tiny-clap", captioner=slit)) as client:
        assert client.get("/health").json()["can_caption"] is True
        assert post(client, "/caption", clips[2]) == expected_texts(slit, clips[2:3], tmp_path / "f")[clips[2]]
    with TestClient(create_app(embedder, "tiny-clap")) as client:
        assert client.get("/health").json()["can_caption"] is False
        reply = client.post("/caption", files={"audio": ("a.wav", clips[0].read_bytes(), "audio/wav")})
        assert reply.status_code == 400 and "--captioner" in reply.json()["detail"]


def test_caption_loads_the_model_once_for_many_files_and_bf16_is_opt_in(backbones: dict[str, Path], clips: list[Path],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    clear_backbone_cache()  # the bf16 language model must not be the one other tests share
    model = make_tiny_slit(backbones)
    loads = []

    def load_captioner(name, retrieve=False, caption_files=None):
        loads.append(name)
        return model

    monkeypatch.setattr("auralign.models.factory.load_captioner", load_captioner)
    result = CliRunner().invoke(cli, ["caption", *map(str, clips), "--model", "tiny", "--precision", "bf16",
                                      "--max-new-tokens", "4", "--json"])
    clear_backbone_cache()
    assert result.exit_code == 0, result.output
    assert loads == ["tiny"]
    assert model.language_model.model.dtype == torch.bfloat16
    outputs = json.loads(result.stdout)["outputs"]
    assert [Path(o["audio"]).name for o in outputs] == [c.name for c in clips]
    assert all(isinstance(o["text"], str) for o in outputs)


def test_bf16_needs_a_language_model(tmp_path: Path) -> None:
    embedder = make_tiny_clap(tmp_path / "clap")
    assert with_generation_precision(embedder, "fp32") is embedder
    with pytest.raises(AuralignError, match="language model"):
        with_generation_precision(embedder, "bf16")
    with pytest.raises(AuralignError, match="unknown precision"):
        with_generation_precision(embedder, "fp16")
