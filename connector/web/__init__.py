"""The connector's HTTP surface: one blueprint per job."""

from __future__ import annotations

from flask import current_app

from connector.services import Services


def services() -> Services:
    """Return the current app's Services."""
    return current_app.extensions["connector"]
