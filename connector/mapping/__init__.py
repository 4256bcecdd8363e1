"""Mapping: YAML files of sandboxed Jinja2 templates that turn a session into ServiceNow writes."""

from __future__ import annotations

from pathlib import Path

import connector
from connector.mapping.engine import MARKER_FORMAT, MappingSet, sample_session
from connector.mapping.plan import AttachmentWrite, ImportPlan, JournalWrite, RecordWrite

__all__ = [
    "MARKER_FORMAT",
    "AttachmentWrite",
    "ImportPlan",
    "JournalWrite",
    "MappingSet",
    "RecordWrite",
    "default_mapping_paths",
    "sample_session",
]


def default_mapping_paths() -> list[Path]:
    """Return the built-in mapping files, sorted by name."""
    return sorted((Path(connector.__file__).parent / "default_mappings").glob("*.yaml"))
