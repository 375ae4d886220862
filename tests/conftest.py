"""Shared pytest options: `--runslow` (or AURALIGN_SLOW=1) enables tests marked slow; tests marked
`backbones` are skipped, not failed, when the real packaged backbones have not been fetched."""

from __future__ import annotations

import os

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
