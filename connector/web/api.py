"""``/api/v1``: what ServiceNow calls to start support (session keys, Jump)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
