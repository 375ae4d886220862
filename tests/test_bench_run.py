"""bench/run.py runs end to end on tiny inputs (a tiny model, shrunk peers): it checks the script, not timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app_factory import make_tiny_clap

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_run_prints_every_row(tmp_path: Path) -> None:
    model = make_tiny_clap(tmp_path / "backbones").save_pretrained(tmp_path / "model")
    env = {**os.environ, "AURALIGN_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "rows.json"
    result = subprocess.run([sys.executable, str(BENCH / "run.py"), "--tiny", "--model", str(model), "--rounds", "1",
                             "--seconds", "1", "--labels", "3", "--json", str(out)],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 7 and all(row["min"] <= row["median"] <= row["max"] and row["min"] > 0 for row in rows)
    assert all(row["row"] in result.stdout for row in rows)
