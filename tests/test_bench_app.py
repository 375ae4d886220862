"""The app benchmarks run end to end on tiny inputs (a tiny random model): they check the scripts, not timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app_factory import make_tiny_clap

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-bench")
    return make_tiny_clap(root / "backbones").save_pretrained(root / "model")


def run_bench(script: str, args: list[str], home: Path) -> dict:
    env = {**os.environ, "AURALIGN_HOME": str(home), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(BENCH / script), *args], env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    return json.loads(result.stdout)


def test_bench_load_runs(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = run_bench("bench_load.py", ["--model", str(tiny_model_dir), "--clients", "2", "--requests", "3",
                                      "--clips", "4"], tmp_path / "home")
    assert out["requests"] == 6 and out["errors"] == 0
    assert set(out["latency"]) == {"search", "classify", "health"}
    assert all(v["p99_ms"] >= v["p50_ms"] > 0 for v in out["latency"].values())


def test_bench_index_update_reembeds_only_touched(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = run_bench("bench_index_update.py", ["--model", str(tiny_model_dir), "--files", "20", "--touch", "2"],
                    tmp_path / "home")
    update = out["index_update_after_touch"]
    assert out["only_touched_files_reembedded"] and update["reembedded"] == update["changed"] == 2
    assert update["unchanged"] == 18 and update["features_computed"] == 2
    assert out["index_update_nothing_changed"] == {**out["index_update_nothing_changed"], "reembedded": 0,
                                                   "unchanged": 20}
