"""The layers in setup.cfg hold (imports run one way, no circles) and the rooms stay small."""

from __future__ import annotations

from pathlib import Path

from importlinter import cli

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept(monkeypatch):
    """lint-imports finds every contract in setup.cfg kept (layers, no cycles)."""
    monkeypatch.chdir(ROOT)
    assert cli.lint_imports(config_filename=str(ROOT / "setup.cfg"), no_cache=True) == 0


def test_no_product_module_is_longer_than_500_lines():
    """Rooms stay small: every module under connector/ but the emulators' fits in 500 lines."""
    package = ROOT / "connector"
    long = {
        str(path.relative_to(ROOT)): lines
        for path in package.rglob("*.py")
        if "sim" not in path.relative_to(package).parts
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert not long, long
