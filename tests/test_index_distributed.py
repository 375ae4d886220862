"""`auralign index build` under torchrun with 2 local gloo processes gives the same index as 1 process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app_factory import make_tiny_clap, write_clips
from auralign.apps.search_index import SearchIndex


def run_build(model_dir: Path, clips: Path, out: Path, home: Path, processes: int) -> None:
    env = {**os.environ, "AURALIGN_HOME": str(home), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "auralign.cli.main", "index", "build", str(clips), "--out", str(out),
               "--model", str(model_dir)]
    if processes > 1:
        torchrun = Path(sys.executable).with_name("torchrun")
        if not torchrun.is_file():
            pytest.skip("torchrun not installed beside the interpreter")
        command = [str(torchrun), "--standalone", f"--nproc_per_node={processes}", "-m", *command[2:]]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def test_two_process_build_equals_one_process(tmp_path: Path) -> None:
    model_dir = make_tiny_clap(tmp_path / "backbones").save_pretrained(tmp_path / "model")
    clips = tmp_path / "clips"
    write_clips(clips / "a", 5)
    write_clips(clips / "b", 4)
    run_build(model_dir, clips, tmp_path / "one", tmp_path / "home1", 1)
    run_build(model_dir, clips, tmp_path / "two", tmp_path / "home2", 2)
    one, two = SearchIndex.load(tmp_path / "one"), SearchIndex.load(tmp_path / "two")
    ids = one.catalog.all_ids()
    assert ids == two.catalog.all_ids() and len(ids) == 9
    assert [one.catalog.path_of(i) for i in ids] == [two.catalog.path_of(i) for i in ids]
    np.testing.assert_allclose(one.store.vectors(np.asarray(ids)), two.store.vectors(np.asarray(ids)), atol=1e-5)
    assert not any(p.name.endswith(".shards") for p in tmp_path.iterdir())
