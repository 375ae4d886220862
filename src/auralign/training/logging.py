"""Run logs: one JSON object per line in `output_dir/log.jsonl`, mirrored to TensorBoard when asked."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

LOG_FILE = "log.jsonl"


class RunLogger:
    """Appends rows to the JSONL log (and TensorBoard); a disabled logger (non-main process) does nothing.

    Rows are dicts with at least `kind` ("train" or "eval") and `step`; every numeric entry is also
    written to TensorBoard as `<kind>/<name>`.
    """

    def __init__(self, output_dir: Path, enabled: bool = True, tensorboard: bool = False) -> None:
        self.enabled = enabled
        self.path = Path(output_dir) / LOG_FILE
        self._tensorboard = (
            _open_tensorboard(Path(output_dir) / "tensorboard") if enabled and tensorboard else None
        )
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as log_file:
            log_file.write(json.dumps(row) + "\n")
        if self._tensorboard is not None:
            for name, value in row.items():
                if name not in ("kind", "step") and isinstance(value, int | float):
                    self._tensorboard.add_scalar(f"{row['kind']}/{name}", value, row["step"])

    def drop_rows_after(self, step: int) -> None:
        """On resume, forget rows the interrupted run logged after the checkpoint it resumes from, and
        any line a kill cut short."""
        if not self.enabled or not self.path.is_file():
            return
        kept = [line for line in self.path.read_text(errors="replace").splitlines()
                if (row := _parse_row(line)) is not None and row["step"] <= step]
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        tmp.replace(self.path)

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()


def _parse_row(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    return row if isinstance(row, dict) and isinstance(row.get("step"), int) else None


def read_log(path: Path) -> list[dict[str, Any]]:
    """All rows of a JSONL log, e.g. to plot a finished run."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _open_tensorboard(directory: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        print(
            "tensorboard is not installed; skipping TensorBoard logs (pip install tensorboard)",
            file=sys.stderr,
        )
        return None
    return SummaryWriter(log_dir=str(directory))
