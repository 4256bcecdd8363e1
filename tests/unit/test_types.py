"""mypy finds no type error in connector/ and no type: ignore that is not needed."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_passes_over_the_package(monkeypatch):
    """mypy, configured in pyproject.toml (warn_unused_ignores on), reports nothing."""
    monkeypatch.chdir(ROOT)
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml")])
    assert status == 0, out + err
