"""`shared_data_dir` finds `../shared/data` beside the checkout whatever the working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auralign import paths

CHECKOUT = Path(__file__).resolve().parents[1]


def test_shared_data_is_beside_the_checkout_from_any_working_directory(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AURALIGN_SHARED_DATA", raising=False)
    expected = CHECKOUT.parent / "shared" / "data"
    if not expected.is_dir():
        pytest.skip("needs ../shared/data beside the checkout")
    monkeypatch.chdir(tmp_path)
    assert paths.shared_data_dir() == expected
    env = {key: value for key, value in os.environ.items() if key != "AURALIGN_SHARED_DATA"}
    found = subprocess.run([sys.executable, "-c", "from auralign.paths import shared_data_dir; print(shared_data_dir())"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(found) == expected


def test_the_environment_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURALIGN_SHARED_DATA", str(tmp_path))
    assert paths.shared_data_dir() == tmp_path
