"""Hooks around every request: count, limit, fault and authenticate it; decorate the answer."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from connector.sim.faults import drop_connection
from connector.sim.servicenow import cost
from connector.sim.servicenow.records import Actor
from connector.sim.servicenow.state import RATE_RULE_ID
from connector.sim.servicenow.web import (
    ApiError,
    after_fault_reply,
    api_name,
    error_response,
    fault_reply,
    path_label,
    state,
    unauthorized,
)


def authenticate() -> Actor | None:
    """Return who the request runs as (Basic, Bearer or session cookie), or None."""
    st = state()
    header = request.headers.get("Authorization", "")
    user: str | None = None
    sid = request.cookies.get("JSESSIONID")
    if sid and st.session_user(sid):
        g.has_session = True  # keep the client's cookie session instead of starting another
    known = st.basic_cache.get(header) if header else None
    if known is not None:
        return st.cached_actor(known)
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        name, _, password = decoded.partition(":")
        if hmac.compare_digest(name, st.options.user) and hmac.compare_digest(
            password, st.options.password
        ):
            user = name
            st.basic_cache[header] = name  # verified once; skip base64 and compare next time
        else:
            return None
    elif header[:7].lower() == "bearer ":
        user = st.token_user(header[7:].strip())
        if user is None:
            return None
    else:
        user = st.session_user(sid) if sid else None
        if user is None:
            return None
    return st.cached_actor(user)


def spend_server_time() -> None:
    """Spend the server time the request's records cost (it still holds its slot), and count it."""
    meter = request.environ.get("sn.meter")
    if meter is None:
        return
    st = state()
    charges = meter[0]
    ms = charges.ms(st.instance_faults.read_ms, st.instance_faults.write_ms)
    if ms > 0:
        # The emulator's own work is part of the server time: sleep only what is left, so the
        # time a request holds its slot is the model's, not the model's plus Python's.
        spent = (time.monotonic() - charges.started) * 1000
        time.sleep(max(0.0, ms - spent) / 1000.0)
    st.stats.charge(charges, ms)


def install_hooks(app: Flask) -> None:
    """Count, limit, fault and authenticate every instance request; decorate every answer."""

    @app.before_request
    def _before() -> Response | None:
        path = request.path
        if path.startswith("/_sim/"):
            return None
        st = state()
        env = request.environ
        if env.get("sn.batch"):
            st.stats.count(f"batch {request.method}", path_label(path))
            g.actor = env["sn.actor"]
            env["sn.meter"] = cost.start()  # each item is charged on its own, in turn
            return None
        st.stats.count(request.method, path_label(path))
        if not st.enter():
            st.stats.fault("semaphore_full", "before")  # the instance's limit, counted alike
            return error_response(
                429,
                "Rate limit exceeded",
                f"Maximum concurrent requests ({st.instance_faults.max_concurrent}) for semaphore "
                "API_INT exceeded",
                {"Retry-After": "1"},
            )
        g.slot_since = time.monotonic()
        decision = st.faults.decide(f"{request.method} {path_label(path)}")
        if decision.action != "pass" and not decision.after:
            st.stats.fault(decision.action, "before")
            if decision.action == "drop":
                drop_connection(request)
                return Response(b"", status=500)
            if decision.action == "error":
                return fault_reply(decision.status, request.method, decision.retry_after)
        length = request.content_length
        limit = st.options.max_body_bytes
        if length is not None and length > limit:
            return error_response(
                400,
                "Exception while reading request",
                f"Rejected large REST payload with content-length = {length} bytes. "
                f"Max allowed: {limit} bytes.",
                {"Connection": "close"},
            )
        if path == "/oauth_token.do":
            return None
        actor = authenticate()
        if actor is None:
            return unauthorized()
        g.actor = actor
        env["sn.meter"] = cost.start()
        if st.instance_faults.hourly_limit and path.startswith("/api/"):
            limit_n, reset, allowed = st.count_hourly()
            g.rate_headers = {
                "X-RateLimit-Limit": str(limit_n),
                "X-RateLimit-Reset": str(reset),
                "X-RateLimit-Rule": RATE_RULE_ID,
            }
            if not allowed:
                retry = max(1, reset - int(time.time()))
                return error_response(
                    429,
                    "Rate limit exceeded",
                    f"Rate limit of {limit_n} requests per hour for {api_name(path)} exceeded",
                    {"Retry-After": str(retry)},
                )
        if decision.after:
            g.after_fault = decision  # applied to the answer once the request has taken effect
        return None

    @app.after_request
    def _after(response: Response) -> Response:
        if request.path.startswith("/_sim/"):
            return response
        spend_server_time()
        # Batch items run nested in the batch's app context: only the outer request is faulted.
        fault = None if request.environ.get("sn.batch") else g.pop("after_fault", None)
        if fault is not None:
            state().stats.fault(fault.action, "after")
            if fault.action == "drop":
                drop_connection(request)
                return Response(b"", status=500)
            if fault.action == "timeout":
                time.sleep(fault.hold_seconds)
            else:
                response = after_fault_reply(fault, response, request.method)
        response.headers["Server"] = "ServiceNow"
        response.headers["X-Is-Logged-In"] = "true" if g.get("actor") else "false"
        response.headers["X-Transaction-ID"] = secrets.token_hex(6)
        rate = g.get("rate_headers")
        if rate:
            response.headers.update(rate)
        if g.get("actor") and not g.get("has_session") and not request.environ.get("sn.batch"):
            sid = state().remember_session(g.actor.user_name)
            response.set_cookie(
                "JSESSIONID", sid, httponly=True, secure=request.is_secure, path="/"
            )
            response.set_cookie(
                "glide_session_store",
                secrets.token_hex(16).upper(),
                max_age=1800,
                httponly=True,
                secure=request.is_secure,
                path="/",
            )
        return response

    @app.teardown_request
    def _release(exc: BaseException | None) -> None:
        meter = request.environ.pop("sn.meter", None)
        if meter is not None:
            cost.stop(meter[1])
        # Batch items share the batch's app context (and g): the slot is the outer request's.
        if request.environ.get("sn.batch"):
            return
        since = g.pop("slot_since", None)
        if since is not None:
            st = state()
            st.leave()
            st.stats.held((time.monotonic() - since) * 1000)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, exc.detail, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        if code == 405:
            return error_response(
                405, "Method not Supported", f"{request.method} method not supported for API"
            )
        if code == 413:
            length = request.content_length
            return error_response(
                400,
                "Exception while reading request",
                f"Rejected large REST payload with content-length = {length} bytes. "
                f"Max allowed: {state().options.max_body_bytes} bytes.",
            )
        if code == 404:
            # Any path under /api/ that matches no API is a 400 on an instance (reference §1.7).
            if request.path.startswith("/api/"):
                return error_response(400, "Requested URI does not represent any resource", None)
            return error_response(404, "Requested URI does not represent any resource", None)
        return error_response(code, exc.name, exc.description)


class MethodOverride:
    """Honour X-HTTP-Method-Override on POST, as the instance does."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE")
        if override and environ.get("REQUEST_METHOD") == "POST":
            environ["REQUEST_METHOD"] = override.strip().upper()
        return self.wsgi_app(environ, start_response)
