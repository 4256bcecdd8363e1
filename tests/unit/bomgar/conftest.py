"""Shared helpers for the Bomgar unit tests: fixture files and namespace variants."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

DEFAULT_NS = {
    "reporting": "http://www.bomgar.com/namespaces/API/reporting",
    "command": "http://www.bomgar.com/namespaces/API/command",
}

# The four namespaces the reference lists, plus none at all.
NAMESPACES = {
    "bomgar-http": "http://www.bomgar.com/namespaces/API/{api}",
    "bomgar-https": "https://www.bomgar.com/namespaces/API/{api}",
    "beyondtrust-sra": "http://www.beyondtrust.com/sra/namespaces/API/{api}",
    "beyondtrust-https": "https://www.beyondtrust.com/namespaces/API/{api}",
    "none": None,
}


def load(name: str, namespace: str | None = "bomgar-http") -> bytes:
    """Return a fixture file with its default namespace swapped for the named variant."""
    text = (DATA / name).read_text(encoding="utf-8")
    for api, default in DEFAULT_NS.items():
        attr = f' xmlns="{default}"'
        if attr not in text:
            continue
        template = NAMESPACES[namespace] if namespace else None
        text = text.replace(attr, f' xmlns="{template.format(api=api)}"' if template else "")
    return text.encode("utf-8")


@pytest.fixture(params=sorted(NAMESPACES))
def namespace(request: pytest.FixtureRequest) -> str:
    """Run a test once per namespace variant."""
    return request.param
