"""bench/bench_memory.py runs end to end on tiny inputs: it checks the script, not the numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auralign.paths import backbones_dir

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_memory.py"


@pytest.mark.backbones
def test_bench_memory_runs_on_tiny_inputs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "backbones").symlink_to(backbones_dir(), target_is_directory=True)
    env = {**os.environ, "AURALIGN_HOME": str(home), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(BENCH), "--seconds", "5", "--dc-seconds", "5", "--json"],
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout)["rows"]
    assert [row["outcome"] for row in rows] == ["exit 0", "exit 0", "HTTP 200", "HTTP 200"]
    assert all(row["peak_rss_mb"] > 0 and row["seconds"] > 0 for row in rows)
    assert rows[2]["rss_before_upload_mb"] > 0
