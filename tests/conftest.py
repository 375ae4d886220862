"""Shared pytest options: `--runslow` (or AURALIGN_SLOW=1) enables tests marked slow; tests marked
`backbones` are skipped, not failed, when the real packaged backbones have not been fetched.

`tiny_backbones`: random tiny backbone folders (aisfx, bert, llama, gpt2; builders in backbone_factory.py),
written once per session. Tests must not write into them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auralign.backbones.registry import BACKBONES, is_fetched


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_slow = config.getoption("--runslow") or os.environ.get("AURALIGN_SLOW") == "1"
    all_fetched = all(is_fetched(name) for name in BACKBONES)
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(pytest.mark.skip(reason="slow: use --runslow or AURALIGN_SLOW=1"))
        if "backbones" in item.keywords and not all_fetched:
            item.add_marker(pytest.mark.skip(reason="backbones not fetched: run `auralign models fetch`"))


@pytest.fixture(scope="session")
def tiny_backbones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from backbone_factory import make_tiny_aisfx, make_tiny_bert, make_tiny_gpt2, make_tiny_llama

    root = tmp_path_factory.mktemp("tiny-backbones")
    return {"aisfx": make_tiny_aisfx(root / "aisfx"), "bert": make_tiny_bert(root / "bert"),
            "llama": make_tiny_llama(root / "llama"), "gpt2": make_tiny_gpt2(root / "gpt2")}
