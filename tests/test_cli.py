"""The `auralign` command on the real backbones: embed, embed-text, classify, eval zeroshot, models
list, data from-folder, and how batch commands report bad files (one line each, no traceback)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from auralign.cli.main import app
from auralign.paths import backbones_dir
from data_factory import BAD_REASON_PREFIXES, tone, write_bad, write_good_and_bad

pytestmark = pytest.mark.backbones

REAL_BACKBONES = backbones_dir()  # read before any test points AURALIGN_HOME elsewhere
AURALIGN = Path(sys.executable).with_name("auralign")


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Caches go to a temporary home that sees the real backbones through a link."""
    home = tmp_path_factory.mktemp("home")
    (home / "backbones").symlink_to(REAL_BACKBONES, target_is_directory=True)
    monkeypatch.setenv("AURALIGN_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mixed")
    write_good_and_bad(folder)
    return folder


def run(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `auralign ARGS` run in-process."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def failure_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("failed:")]


def assert_finite_nonzero_vector(vector: list[float], dim: int) -> None:
    assert len(vector) == dim
    assert all(math.isfinite(value) for value in vector)
    assert np.linalg.norm(vector) > 0


def test_embed_one_file_as_json(tmp_path: Path) -> None:
    clip = tmp_path / "some.wav"
    sf.write(clip, tone(1.0, 44100), 44100)
    code, out, _ = run("embed", str(clip), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["dim"] == 512 and result["failures"] == []
    (item,) = result["embeddings"]
    assert item["audio"] == str(clip)
    assert_finite_nonzero_vector(item["embedding"], 512)


def test_embed_a_folder_of_good_and_bad_files_in_a_real_process(mixed_folder: Path) -> None:
    completed = subprocess.run([str(AURALIGN), "embed", str(mixed_folder)], capture_output=True, text=True,
                               env={**os.environ, "COLUMNS": "400"}, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr + completed.stdout
    assert len([line for line in completed.stdout.splitlines() if "dim 512" in line]) == 5
    failures = failure_lines(completed.stderr)
    assert len(failures) == 5
    for name, reason in BAD_REASON_PREFIXES.items():
        (line,) = [line for line in failures if f"{name}:" in line]
        assert line.startswith(f"failed: {mixed_folder / name}: {reason}")
    assert "5 succeeded, 5 failed" in completed.stderr


def test_embed_json_lists_embeddings_and_failures(mixed_folder: Path) -> None:
    code, out, stderr = run("embed", str(mixed_folder), "--json")
    assert code == 0
    result = json.loads(out)
    assert len(result["embeddings"]) == 5 and result["dim"] == 512
    assert sorted(Path(f["audio"]).name for f in result["failures"]) == sorted(BAD_REASON_PREFIXES)
    assert len(failure_lines(stderr)) == 5


def test_embed_only_bad_files_exits_1(tmp_path: Path) -> None:
    write_bad(tmp_path)
    code, _, stderr = run("embed", str(tmp_path))
    assert code == 1
    assert len(failure_lines(stderr)) == 5


def test_embed_strict_exits_1_on_any_failure(mixed_folder: Path) -> None:
    code, out, _ = run("embed", str(mixed_folder), "--strict", "--json")
    assert code == 1
    assert len(json.loads(out)["embeddings"]) == 5  # the good files are still embedded


def test_embed_text_is_384_d() -> None:
    code, out, _ = run("embed-text", "a dog", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["dim"] == 384
    (item,) = result["embeddings"]
    assert item["text"] == "a dog"
    assert_finite_nonzero_vector(item["embedding"], 384)


def test_classify_predicts_for_the_good_files(mixed_folder: Path) -> None:
    code, out, stderr = run("classify", str(mixed_folder), "--labels", "a, b, c", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["labels"] == ["a", "b", "c"]
    good = sorted(p.name for p in mixed_folder.iterdir() if p.name not in BAD_REASON_PREFIXES)
    assert sorted(Path(p["audio"]).name for p in result["predictions"]) == good
    for prediction in result["predictions"]:
        assert sorted(top["label"] for top in prediction["top"]) == ["a", "b", "c"]
        assert sum(top["score"] for top in prediction["top"]) == pytest.approx(1.0, abs=1e-4)
    assert len(result["failures"]) == 5 and len(failure_lines(stderr)) == 5


def test_eval_zeroshot_prints_one_json_object(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lines = []
    for i in range(6):
        path = tmp_path / f"clip{i}.wav"
        if i % 2:
            samples = tone(1.0, 44100, frequency=300.0 + 200 * i)[:, 0]
        else:
            samples = (0.3 * rng.standard_normal(44100)).astype(np.float32)
        sf.write(path, samples, 44100)
        lines.append(json.dumps({"audio": path.name, "labels": ["beep" if i % 2 else "static noise"]}))
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    code, out, _ = run("eval", "zeroshot", "--manifest", str(manifest), "--json")
    assert code == 0
    (line,) = out.strip().splitlines()
    result = json.loads(line)
    assert {"task", "n", "top1", "top5", "per_class"} <= set(result)
    assert result["task"] == "zeroshot" and result["n"] == 6
    assert 0.0 <= result["top1"] <= result["top5"] <= 1.0
    assert set(result["per_class"]) == {"beep", "static noise"}


def test_models_list_json() -> None:
    code, out, _ = run("models", "list", "--json")
    assert code == 0
    backbones = {row["name"]: row for row in json.loads(out)["backbones"]}
    assert {"aisfx", "minilm-l6-v2"} <= set(backbones)
    assert all(row["fetched"] for row in backbones.values())
    assert backbones["aisfx"]["kind"] == "audio" and backbones["minilm-l6-v2"]["kind"] == "text"


@pytest.mark.parametrize("command", [["embed"], ["classify", "--labels", "a, b"]])
def test_unknown_model_is_one_line_error(mixed_folder: Path, command: list[str]) -> None:
    code, out, stderr = run(*command, str(mixed_folder / "mono_16k.wav"), "--model", "no-such-model")
    assert code == 1
    assert out == ""
    (line,) = stderr.strip().splitlines()
    assert line.startswith("error: no model 'no-such-model'") and "clap" in line
    assert "Traceback" not in stderr


def test_data_from_folder_writes_a_manifest(tmp_path: Path) -> None:
    for label in ("dog_bark", "rain"):
        (tmp_path / label).mkdir()
        sf.write(tmp_path / label / "a.wav", tone(0.5, 16000), 16000)
    code, _, stderr = run("data", "from-folder", str(tmp_path))
    assert code == 0
    assert "wrote 2 rows with 2 labels" in stderr
    records = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert [(r["audio"], r["labels"]) for r in records] == [("dog_bark/a.wav", ["dog bark"]), ("rain/a.wav", ["rain"])]


def test_the_cli_starts_without_importing_torch() -> None:
    """`auralign --help` and argument errors stay fast: torch is imported only by commands that run."""
    import subprocess
    import sys

    code = "import sys, auralign.cli.main; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
