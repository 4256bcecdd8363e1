"""Mapping: YAML files of sandboxed Jinja2 templates that turn a session into ServiceNow writes."""

from __future__ import annotations

from pathlib import Path

from connector.mapping.engine import MARKER_FORMAT, MappingSet, sample_session
from connector.mapping.plan import AttachmentWrite, ImportPlan, JournalWrite, RecordWrite

__all__ = [
    "MARKER_FORMAT",
    "AttachmentWrite",
    "ImportPlan",
    "JournalWrite",
    "MappingSet",
    "RecordWrite",
    "default_mapping_folder",
    "default_mapping_paths",
    "sample_session",
]


# The default mappings live in the repository's top-level mappings/ folder, where admins read
# them; a wheel carries them as connector/mapping/defaults/ (setup.py maps that package there).
_PACKAGED = Path(__file__).parent / "defaults"
_SOURCE = Path(__file__).resolve().parents[2] / "mappings"


def default_mapping_folder() -> Path:
    """Return the folder of the built-in mappings (3PA's are in its 3pa/ subfolder)."""
    return _PACKAGED if _PACKAGED.is_dir() else _SOURCE


def default_mapping_paths() -> list[Path]:
    """Return the built-in session mapping files, sorted by name."""
    return sorted(default_mapping_folder().glob("*.yaml"))
