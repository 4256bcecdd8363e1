"""The /_sim/ control API: health, faults, scripted faults, stats, update sets, reset."""

from __future__ import annotations

import re

from flask import Blueprint, Response, request

from connector.sim.servicenow.schema import SchemaError
from connector.sim.servicenow.web import json_response, state

bp = Blueprint("servicenow_control", __name__, url_prefix="/_sim")


@bp.route("/health", methods=["GET"])
def sim_health() -> Response:
    """Say the emulator is up."""
    return json_response({"status": "ok", "records": len(state().store.records)})


@bp.route("/faults", methods=["GET", "POST"])
def sim_faults() -> Response:
    """Read or change fault settings."""
    st = state()
    if request.method == "POST":
        changes = request.get_json(silent=True)
        if not isinstance(changes, dict):
            return json_response({"error": "send a JSON object of settings"}, 400)
        try:
            st.configure_faults(changes)
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)
    return json_response(st.fault_settings())


@bp.route("/faults/script", methods=["GET", "POST", "DELETE"])
def sim_fault_script() -> Response:
    """Read, add to or clear the scripted faults (deterministic faults for named requests)."""
    st = state()
    if request.method == "DELETE":
        st.faults.clear_script()
    elif request.method == "POST":
        rules = request.get_json(silent=True)
        if isinstance(rules, dict):
            rules = [rules]
        if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
            return json_response({"error": "send a rule object or a list of them"}, 400)
        try:
            st.faults.script(rules)
        except (ValueError, TypeError, re.error) as exc:
            return json_response({"error": str(exc)}, 400)
    return json_response({"rules": st.faults.scripted()})


@bp.route("/stats", methods=["GET"])
def sim_stats() -> Response:
    """Return request counts per method and path pattern."""
    return json_response(state().stats.snapshot())


@bp.route("/stats/reset", methods=["POST"])
def sim_stats_reset() -> Response:
    """Forget request counts."""
    state().stats.reset()
    return json_response(state().stats.snapshot())


@bp.route("/update-sets", methods=["POST"])
def sim_update_sets() -> Response:
    """Commit an update set (unload XML in the body): its tables, columns, choices, records."""
    try:
        commit = state().load_update_set(request.get_data())
    except SchemaError as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response(commit.summary(), 201)


@bp.route("/reset", methods=["POST"])
def sim_reset() -> Response:
    """Restore the seed and clear stats, tokens and faults."""
    state().reset()
    return json_response({"status": "reset"})
