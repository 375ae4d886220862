"""The campaign as a test: malformed and odd inputs through `auralign embed` in a real process, in folder
and file modes. Per input: no traceback, exactly one outcome (an embedding or a failure with a reason),
finite outputs, strict JSON, and exit status 0 iff something succeeded. A sample of 200 runs by default,
all inputs (>= 1,000) under --runslow."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from campaign import Spec, campaign_specs, write_inputs

pytestmark = pytest.mark.backbones
AURALIGN = Path(sys.executable).with_name("auralign")
SAMPLE = 200


def _strict(value: str) -> float:
    raise ValueError(f"non-finite number in JSON output: {value}")


def run_embed(arguments: list[str]) -> tuple[int, dict, str]:
    completed = subprocess.run([str(AURALIGN), "embed", *arguments, "--json"], capture_output=True,
                               env={**os.environ, "COLUMNS": "400"}, timeout=600)
    stderr = completed.stderr.decode("utf-8", "replace")
    result = json.loads(completed.stdout, parse_constant=_strict)
    return completed.returncode, result, stderr


def check_outcomes(inputs: list[Path], code: int, result: dict, stderr: str) -> Counter:
    """Every input has exactly one outcome; returns the count of outcomes per reason."""
    assert "Traceback" not in stderr, stderr[-3000:]
    embedded = [item["audio"] for item in result["embeddings"]]
    failed = [item["audio"] for item in result["failures"]]
    outcomes = Counter(embedded + failed)
    expected = Counter(str(path) for path in inputs)
    assert outcomes == expected, {"missing": expected - outcomes, "extra": outcomes - expected}
    for item in result["embeddings"]:
        assert all(math.isfinite(value) for value in item["embedding"]), item["audio"]
    assert all(item["reason"] for item in result["failures"])
    assert len([line for line in stderr.splitlines() if line.startswith("failed:")]) == len(failed)
    assert code == (0 if embedded else 1)
    return Counter(item["reason"].split(" (")[0] for item in result["failures"]) + Counter(
        {"embedded": len(embedded)})


def chosen_specs(request: pytest.FixtureRequest) -> list[Spec]:
    specs = campaign_specs()
    assert len(specs) >= 1000
    if request.config.getoption("--runslow") or os.environ.get("AURALIGN_SLOW") == "1":
        return specs
    always = [s for s in specs if s.kind in ("odd names", "links and special files", "non-finite or huge floats")]
    rest = [s for s in specs if s not in always]
    return always + random.Random(17).sample(rest, SAMPLE - len(always))


def test_campaign_in_folder_mode(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    specs = chosen_specs(request)
    folder = tmp_path / "inputs"
    write_inputs(folder, specs)
    code, result, stderr = run_embed([str(folder)])
    check_outcomes([folder / spec.name for spec in specs], code, result, stderr)


def test_campaign_in_file_mode(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    specs = [s for s in chosen_specs(request) if s.kind in ("odd names", "links and special files", "valid")
             or s.kind.startswith("truncated")][:120]
    folder = tmp_path / "inputs"
    write_inputs(folder, specs)
    paths = [folder / spec.name for spec in specs]
    code, result, stderr = run_embed([os.fsdecode(path) for path in paths])
    check_outcomes(paths, code, result, stderr)
