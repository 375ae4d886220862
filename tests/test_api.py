"""The top-level Python API (`auralign.load`, `Model`, `Index`): the README's three-line example on the
shipped default model, and every method on tiny random models, checked against the functions the CLI
uses (same answers) and for one-line errors naming a bad file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import auralign
from app_factory import make_tiny_clap, make_tiny_slit, write_clips
from auralign.apps.search_index import build_index
from auralign.audio.io import load_audio
from auralign.backbones.factory import clear_backbone_cache
from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow
from auralign.errors import AuralignError
from auralign.evaluation.captioning import describe_files
from auralign.evaluation.zeroshot import classify_files
from auralign.models.factory import load_model

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src" / "auralign" / "resources" / "demo"
LABELS = ["a dog barking", "rain", "a car horn"]


def readme_python_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    assert blocks, "the README has no Python example"
    return blocks[0]


def test_the_readme_example_is_the_three_line_api() -> None:
    code = [line for line in readme_python_example().splitlines() if line.strip()]
    assert len(code) == 3 and code[0] == "import auralign" and "auralign.load()" in code[1]


@pytest.mark.backbones
def test_the_readme_python_example_runs(tmp_path: Path) -> None:
    """In a fresh interpreter (import auralign must be enough), on a real recording named as in the README."""
    audio, rate = sf.read(DEMO / "dog.flac")
    sf.write(tmp_path / "dog.wav", audio, rate)
    lines = readme_python_example().rstrip().splitlines()
    script = "\n".join([*lines[:-1], f"result = {lines[-1].split('#')[0].strip()}", "print(repr(result))"])
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (top,) = eval(done.stdout.strip().splitlines()[-1])  # our own repr of [[(label, score), ...]]
    assert len(top) == 2 and all(isinstance(label, str) and 0 <= score <= 1 for label, score in top)
    assert top[0][1] >= top[1][1]


def test_import_auralign_is_cheap_and_names_the_api() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys, auralign; print('torch' in sys.modules); "
                           "print(sorted(auralign.__all__))"], capture_output=True, text=True, timeout=120)
    assert done.stdout.split("\n")[:2] == ["False", "['Index', 'Model', '__version__', 'load']"]
    with pytest.raises(AttributeError):
        auralign.nothing  # noqa: B018


@pytest.fixture(scope="module")
def folders(tiny_backbones: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    clear_backbone_cache()
    root = tmp_path_factory.mktemp("api")
    backbones = {"audio": tiny_backbones["aisfx"], "text": tiny_backbones["bert"], "llm": tiny_backbones["llama"]}
    return {"clap": make_tiny_clap(root / "clap").save_pretrained(root / "clap" / "model"),
            "slit": make_tiny_slit(backbones).save_pretrained(root / "slit"),
            "clips": write_clips(root / "clips", 3, seconds=1.5)[0].parent}


@pytest.fixture(scope="module")
def model(folders: dict[str, Path]) -> auralign.Model:
    return auralign.load(folders["clap"], captioner=folders["slit"])


def clips(folders: dict[str, Path]) -> list[Path]:
    return sorted(folders["clips"].glob("*.wav"))


def test_embed_audio_takes_paths_and_arrays_alike(model: auralign.Model, folders: dict[str, Path]) -> None:
    paths = clips(folders)
    by_path = model.embed_audio(paths)
    assert by_path.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(by_path, axis=1), 1.0, atol=1e-5)
    samples = load_audio(paths[1], model.sample_rate)
    mixed = model.embed_audio([samples, str(paths[0])])
    np.testing.assert_allclose(mixed, by_path[[1, 0]], atol=1e-4)
    np.testing.assert_allclose(model.embed_audio(paths[2]), by_path[2:], atol=1e-6)  # one path: one row


def test_embed_text_and_classify_agree_with_the_cli_functions(model: auralign.Model, folders: dict[str, Path]) -> None:
    vectors = model.embed_text(LABELS)
    assert vectors.shape == (3, 16) and model.embed_text("rain").shape == (1, 16)
    np.testing.assert_allclose(model.embed_text("rain")[0], vectors[1], atol=1e-5)
    paths = clips(folders)
    ranked = model.classify(paths, LABELS, top_k=2)
    reference = classify_files(model.model, paths, LABELS, top_k=2).predictions
    assert ranked == [[(top["label"], top["score"]) for top in p["top"]] for p in reference]
    assert all(len(r) == 2 and r[0][1] >= r[1][1] for r in ranked)


def test_caption_and_ask_use_the_captioner_as_describe_files_does(model: auralign.Model, folders: dict[str, Path],
                                                                 tmp_path: Path) -> None:
    paths = clips(folders)
    captioner = model.captioner()
    assert captioner.model_type == "slit" and model.captioner() is captioner  # loaded once
    expected, _ = describe_files(captioner, FeatureCache(captioner.audio_encoder, root=tmp_path), paths)
    assert model.caption(paths) == [text for _, text in expected]
    assert isinstance(model.ask(paths[0], "What is it?"), str)
    slit = auralign.load(folders["slit"])
    assert slit.captioner() is slit.model  # a model that writes text captions itself


def test_a_bad_file_is_one_error_naming_it(model: auralign.Model, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    for call in (lambda: model.embed_audio([bad]), lambda: model.classify([bad], LABELS),
                 lambda: model.caption([bad])):
        with pytest.raises(AuralignError, match=r"bad\.wav"):
            call()
    with pytest.raises(AuralignError, match="1-D"):
        model.embed_audio(np.zeros((2, 100), np.float32))


def test_an_index_is_searched_in_words(folders: dict[str, Path], tmp_path: Path) -> None:
    clap = load_model(folders["clap"])
    rows = [ManifestRow(audio=path) for path in clips(folders)]
    build_index(clap, rows, FeatureCache(clap.audio_encoder, root=tmp_path / "cache"), str(folders["clap"]),
                tmp_path / "index", progress=False)
    hits = auralign.Index.open(tmp_path / "index").search("a dog barking", k=2)
    assert len(hits) == 2 and hits[0].score >= hits[1].score
    assert {Path(hit.item["path"]).name for hit in hits} <= {path.name for path in clips(folders)}
