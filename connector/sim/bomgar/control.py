"""The ``/_sim/`` control API (no auth; no appliance serves this prefix)."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from connector.sim.bomgar.models import SimError, SimSession
from connector.sim.bomgar.state import SimState
from connector.sim.bomgar.web import state

bp = Blueprint("bomgar_control", __name__, url_prefix="/_sim")


@bp.errorhandler(SimError)
def _sim_error(exc: SimError) -> tuple[Response, int]:
    return jsonify({"error": exc.message}), exc.status


@bp.errorhandler(ValueError)
def _value_error(exc: ValueError) -> tuple[Response, int]:
    return jsonify({"error": str(exc)}), 400


def body() -> dict[str, Any]:
    """Return the JSON body (empty when none was sent)."""
    data = request.get_json(silent=True)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SimError("expected a JSON object")
    return data


def _custom(data: dict[str, Any]) -> dict[str, str]:
    custom = {
        k: str(v) for k, v in (data.get("custom") or data.get("custom_attributes") or {}).items()
    }
    if data.get("external_key") is not None:
        custom["external_key"] = str(data["external_key"])
    return custom


def queues_json(st: SimState) -> dict[str, list[dict[str, Any]]]:
    """Return waiting sessions per queue."""
    with st.lock:
        out: dict[str, list[dict[str, Any]]] = {}
        for s in st.sessions.values():
            if s.state != "waiting" or s.queue is None:
                continue
            cust = next((m for m in s.members if m.kind == "customer"), None)
            out.setdefault(s.queue, []).append(
                {
                    "lsid": s.lsid,
                    "queue_name": st.queue_name(s.queue),
                    "external_key": s.external_key,
                    "custom_attributes": dict(s.custom),
                    "customer": cust.info if cust else {},
                    "start_method": s.start_method,
                    "start_time": s.start_time,
                }
            )
        return out


def session_json(st: SimState, session: SimSession) -> dict[str, Any]:
    """Return a JSON view of a session."""
    with st.lock:
        return {
            "lsid": session.lsid,
            "lseq": session.lseq,
            "state": session.state,
            "queue": session.queue,
            "start_method": session.start_method,
            "start_time": session.start_time,
            "end_time": session.end_time,
            "external_key": session.external_key,
            "custom_attributes": dict(session.custom),
            "owner_gsnumber": session.owner_gs,
            "members": [
                {
                    "gsnumber": m.gsnumber,
                    "type": m.kind,
                    "name": m.name,
                    "rep_id": m.rep_id,
                    "username": m.username,
                    "joined": m.joined,
                    "left": m.left,
                }
                for m in session.members
            ],
            "events": [
                {"timestamp": e["timestamp"], "event_type": e["event_type"]} for e in session.events
            ],
            "jump": session.jump,
            "customer_surveys": len(session.cust_surveys),
            "rep_surveys": len(session.rep_surveys),
        }


@bp.get("/health")
def health() -> Response:
    """Report that the emulator is up."""
    st = state()
    return jsonify({"status": "ok", "sessions": len(st.sessions), "time": int(time.time())})


@bp.post("/reset")
def reset() -> Response:
    """Forget everything but the seed."""
    state().reset()
    return jsonify({"status": "reset"})


@bp.route("/faults", methods=["GET", "POST"])
def faults() -> Response:
    """Show or change fault injection (FaultSettings keys plus malformed_rate)."""
    st = state()
    if request.method == "POST":
        changes = dict(body())
        if "malformed_rate" in changes:
            rate = float(changes.pop("malformed_rate"))
            if not 0.0 <= rate <= 1.0:
                raise SimError("malformed_rate must be between 0 and 1")
            st.malformed_rate = rate
        if changes.pop("reset", False):
            st.faults.reset()
        st.faults.configure(changes)
    return jsonify({**st.faults.settings.as_dict(), "malformed_rate": st.malformed_rate})


@bp.get("/stats")
def stats() -> Response:
    """Show request counts per endpoint."""
    return jsonify(state().stats.snapshot())


@bp.post("/stats/reset")
def stats_reset() -> Response:
    """Reset request counts."""
    state().stats.reset()
    return jsonify({"status": "reset"})


@bp.post("/tokens/revoke")
def tokens_revoke() -> Response:
    """Invalidate every token (or one account's), as a secret regeneration would."""
    client_id = body().get("client_id")
    return jsonify({"revoked": state().tokens.revoke(client_id)})


@bp.get("/tokens")
def tokens() -> Response:
    """Count live tokens per API account."""
    st = state()
    return jsonify({cid: st.tokens.live_count(cid) for cid in st.accounts})


@bp.get("/events")
def events() -> Response:
    """Show outbound events delivered, pending and dropped per recipient."""
    return jsonify(state().delivery.snapshot())


@bp.get("/queues")
def queues() -> Response:
    """Show sessions waiting per queue with their external key and custom attributes."""
    return jsonify(queues_json(state()))


@bp.get("/keys")
def keys() -> Response:
    """Show generated session keys."""
    st = state()
    with st.lock:
        return jsonify(
            [
                {
                    "short_key": k.short_key,
                    "queue": k.queue,
                    "expires": k.expires,
                    "custom_attributes": k.custom,
                    "created_by": k.created_by,
                }
                for k in st.keys.values()
            ]
        )


@bp.get("/start_requests")
def start_requests() -> Response:
    """Show the parameters of recent /api/start_session requests."""
    return jsonify(list(state().start_requests))


@bp.post("/jump-clients")
def jump_clients() -> Response:
    """Add Jump Clients: a list under "items", or "count" generated ones named prefix-N."""
    st = state()
    data = body()
    created = []
    for item in data.get("items") or []:
        created.append(st.add_jump_client(item))
    prefix = data.get("prefix", "WS-GEN")
    for i in range(int(data.get("count", 0))):
        name = f"{prefix}-{i + 1:04d}"
        created.append(
            st.add_jump_client(
                {
                    "name": name,
                    "hostname": name.lower(),
                    "jump_group_id": 1,
                    "private_ip": f"10.30.{(i // 250) % 250}.{i % 250 + 1}",
                    "tag": data.get("tag", "generated"),
                }
            )
        )
    return jsonify({"created": [j["id"] for j in created], "total": len(st.jump_clients)})


@bp.get("/sessions")
def sessions_list() -> Response:
    """List sessions (lsid, state, external key)."""
    st = state()
    with st.lock:
        return jsonify(
            [
                {
                    "lsid": s.lsid,
                    "lseq": s.lseq,
                    "state": s.state,
                    "external_key": s.external_key,
                    "start_time": s.start_time,
                    "end_time": s.end_time,
                }
                for s in sorted(st.sessions.values(), key=lambda s: s.lseq)
            ]
        )


@bp.post("/sessions")
def sessions_play() -> tuple[Response, int]:
    """Play a whole scripted session; an empty body plays the default full session."""
    session = state().play(body())
    return jsonify({"lsid": session.lsid, "state": session.state}), 201


@bp.post("/sessions/bulk")
def sessions_bulk() -> tuple[Response, int]:
    """Create many ended sessions spread over a time range (no events unless asked)."""
    started = time.perf_counter()
    lsids = state().bulk(body())
    return jsonify(
        {
            "created": len(lsids),
            "lsids": lsids,
            "seconds": round(time.perf_counter() - started, 3),
        }
    ), 201


@bp.post("/sessions/start")
def sessions_start() -> tuple[Response, int]:
    """Start a session by session key, click-to-chat or into a named queue."""
    st = state()
    data = body()
    custom = _custom(data)
    method = data.get("method", "general")
    if data.get("short_key"):
        key = st.use_key(str(data["short_key"]))
        queue = key.queue
        custom = {**key.custom, **custom}
        method = "session_key"
    else:
        queue = st.resolve_queue(str(data.get("queue", "general")))
        if data.get("click_to_chat"):
            method = "click_to_chat"
    session = st.start_session(
        queue=queue,
        customer=data.get("customer"),
        custom=st.check_custom(custom),
        method=method,
        at=data.get("at"),
        send_events=bool(data.get("send_events", True)),
    )
    return jsonify({"lsid": session.lsid, "queue": queue, "state": session.state}), 201


@bp.post("/sessions/jump")
def sessions_jump() -> tuple[Response, int]:
    """Start a Jump session to a Jump Client with a rep already in it."""
    data = body()
    session = state().start_jump(
        data.get("jump_client", 1),
        data.get("rep", 1),
        _custom(data),
        data.get("at"),
        bool(data.get("send_events", True)),
    )
    return jsonify({"lsid": session.lsid, "state": session.state}), 201


@bp.get("/sessions/<lsid>")
def session_get(lsid: str) -> Response:
    """Show a session as JSON."""
    st = state()
    return jsonify(session_json(st, st.get_session(lsid)))


def _done(lsid: str) -> Response:
    st = state()
    return jsonify(session_json(st, st.get_session(lsid)))


@bp.post("/sessions/<lsid>/join")
def session_join(lsid: str) -> Response:
    """Have a rep join (the first one takes the session from its queue)."""
    data = body()
    state().join(lsid, data.get("rep", 1), data.get("at"), bool(data.get("invited", False)))
    return _done(lsid)


@bp.post("/sessions/<lsid>/leave")
def session_leave(lsid: str) -> Response:
    """Have a rep (or "customer") leave."""
    data = body()
    state().leave(lsid, data.get("rep", data.get("who", 1)), data.get("at"))
    return _done(lsid)


@bp.post("/sessions/<lsid>/chat")
def session_chat(lsid: str) -> Response:
    """Add a chat line; "from" is a rep id/username or "customer"."""
    data = body()
    state().chat(lsid, data.get("from", "customer"), str(data.get("text", "")), data.get("at"))
    return _done(lsid)


@bp.post("/sessions/<lsid>/file")
def session_file(lsid: str) -> Response:
    """Record a file upload (rep to customer) or download (customer to rep)."""
    data = body()
    state().file(
        lsid,
        data.get("direction", "upload"),
        str(data.get("filename", "file.txt")),
        int(data.get("filesize", 1024)),
        data.get("rep"),
        data.get("at"),
        bool(data.get("failed", False)),
    )
    return _done(lsid)


@bp.post("/sessions/<lsid>/note")
def session_note(lsid: str) -> Response:
    """Add a session note."""
    data = body()
    state().note(lsid, str(data.get("text", "")), data.get("rep"), data.get("at"))
    return _done(lsid)


@bp.post("/sessions/<lsid>/sysinfo")
def session_sysinfo(lsid: str) -> Response:
    """Record system information (default categories unless "categories" is given)."""
    data = body()
    state().sysinfo(lsid, data.get("categories"), data.get("rep"), data.get("at"))
    return _done(lsid)


@bp.post("/sessions/<lsid>/transfer")
def session_transfer(lsid: str) -> Response:
    """Transfer to another rep ("to_rep") or back into a queue ("to_queue")."""
    data = body()
    state().transfer(
        lsid, to_rep=data.get("to_rep"), to_queue=data.get("to_queue"), at=data.get("at")
    )
    return _done(lsid)


@bp.post("/sessions/<lsid>/end")
def session_end(lsid: str) -> Response:
    """End the session."""
    state().end(lsid, body().get("at"))
    return _done(lsid)


@bp.post("/sessions/<lsid>/report")
def session_report(lsid: str) -> Response:
    """Change how the session shows in reports: {"surveys_in_report": bool, "overrides": {...}}."""
    data = body()
    state().set_report_options(
        lsid, surveys_in_report=data.get("surveys_in_report"), overrides=data.get("overrides")
    )
    return _done(lsid)


@bp.post("/sessions/<lsid>/surveys")
def session_surveys(lsid: str) -> Response:
    """Submit exit surveys: {"customer": {...answers}, "rep": {...answers}} (either or both)."""
    st = state()
    data = body()
    if not data.get("customer") and not data.get("rep"):
        raise SimError('give "customer" and/or "rep" answers')
    if data.get("customer"):
        st.survey(lsid, "customer", dict(data["customer"]), None, data.get("at"))
    if data.get("rep"):
        st.survey(lsid, "rep", dict(data["rep"]), data.get("rep_id"), data.get("at"))
    return _done(lsid)
