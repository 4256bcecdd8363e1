"""``/support/<table>/<sys_id>``: the Get Support Now page shown inside a ServiceNow frame."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("support", __name__)
