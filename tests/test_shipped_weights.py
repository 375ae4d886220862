"""The shipped default weights stay small (fp16, under 80 MB together): every retrain of them stays
in the repository's history."""

from __future__ import annotations

import pytest
from safetensors import safe_open

from auralign.models.factory import resolve_model_path, shipped_models
from auralign.paths import SHIPPED_WEIGHTS_DIR

BUDGET_BYTES = 80 * 1000 * 1000  # the issue budget: all shipped weights under 80 MB


def test_shipped_weights_are_fp16_safetensors_within_the_budget() -> None:
    names = shipped_models()
    assert {"clap-fsdd", "mats"} <= set(names)
    total = 0
    for name in names:
        folder = SHIPPED_WEIGHTS_DIR / name
        weights = folder / "model.safetensors"
        assert (folder / "config.json").is_file() and weights.is_file()
        with safe_open(str(weights), framework="pt") as handle:
            dtypes = {str(handle.get_slice(key).get_dtype()) for key in handle.keys()}  # noqa: SIM118 (a safetensors handle is not iterable)
        assert dtypes <= {"F16", "I64", "I32", "BOOL", "U8"}, f"{name}: {dtypes}"
        total += sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    assert total <= BUDGET_BYTES, f"shipped weights {total / 2**20:.1f} MiB"


def test_the_old_clap_name_points_to_clap_fsdd_with_a_notice(capsys: pytest.CaptureFixture[str]) -> None:
    assert resolve_model_path("clap") == resolve_model_path("clap-fsdd")
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("notice: model 'clap' is now 'clap-fsdd'")
