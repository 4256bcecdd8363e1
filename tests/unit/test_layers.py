"""The layers in setup.cfg hold: the runtime path imports one way, nothing imports in a circle."""

from __future__ import annotations

from pathlib import Path

from importlinter import cli

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept(monkeypatch):
    """lint-imports finds every contract in setup.cfg kept (layers, no cycles)."""
    monkeypatch.chdir(ROOT)
    assert cli.lint_imports(config_filename=str(ROOT / "setup.cfg"), no_cache=True) == 0
