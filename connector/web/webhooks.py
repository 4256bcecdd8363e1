"""``POST /bomgar/events``: a thin view over events.parse_event and Store.record_event.

The appliance sends nothing else while it waits for this answer, so the view does no
remote calls: it checks the sender, validates the form, commits the event and answers.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging

from flask import Blueprint, Response, request

from connector.bomgar.events import is_known, parse_event
from connector.errors import DataError
from connector.web import services

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)

TOKEN_PARAM = "outbound_event_token"  # noqa: S105 - a parameter name, not a secret


def _text(status: int, body: str) -> Response:
    return Response(body + "\n", status=status, mimetype="text/plain")


@functools.lru_cache(maxsize=32)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    # Parsed once per configuration: this view is on the appliance's critical path.
    return tuple(ipaddress.ip_network(n) for n in cidrs)


def client_address(trusted_proxies: list[str]) -> str:
    """Return the sender's address, believing X-Forwarded-For only from trusted proxies."""
    addr = request.remote_addr or ""
    if not trusted_proxies:
        return addr
    nets = _networks(tuple(trusted_proxies))

    def trusted(a: str) -> bool:
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            return False
        return any(ip in n for n in nets)

    if not trusted(addr):
        return addr
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            return hop
    return addr


def allowed(addr: str, networks: list[str]) -> bool:
    """Tell whether an address lies in one of the allowed networks."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in _networks(tuple(networks)))


@bp.post("/bomgar/events")
def receive_event() -> Response:
    """Accept one outbound event from the appliance."""
    svc = services()
    cfg = svc.config
    metrics = svc.metrics
    addr = client_address(cfg["webhook.trusted_proxies"])
    if not allowed(addr, cfg["webhook.allowed_networks"]):
        metrics.inc("connector_events_rejected_total")
        log.warning("event refused: sender %s is outside webhook.allowed_networks", addr)
        return _text(403, "sender not allowed")
    length = request.content_length
    if length is not None and length > cfg["webhook.max_body_bytes"]:
        metrics.inc("connector_events_rejected_total")
        return _text(413, f"body of {length} bytes exceeds {cfg['webhook.max_body_bytes']}")
    form = request.form  # raises 413 past MAX_FORM_MEMORY_SIZE; see create_app
    token = request.args.get(TOKEN_PARAM) or form.get(TOKEN_PARAM) or ""
    if not token or not hmac.compare_digest(token.encode(), cfg["webhook.token"].encode()):
        metrics.inc("connector_events_rejected_total")
        log.warning(
            "event refused from %s: %s outbound_event_token", addr, "wrong" if token else "missing"
        )
        return _text(401, "missing or wrong outbound_event_token")
    fields = {k: v for k, v in form.items() if k != TOKEN_PARAM}
    try:
        event = parse_event(fields)
    except DataError as exc:
        metrics.inc("connector_events_rejected_total")
        log.warning("event refused from %s: %s", addr, exc)
        return _text(400, f"invalid event: {exc}")
    expected = cfg["bomgar.appliance_id"]
    if expected and event.appliance_id != expected:
        metrics.inc("connector_events_rejected_total")
        return _text(403, "unknown appliance_id")
    known = is_known(event.event)
    if svc.store.record_event(event, known=known):
        metrics.inc("connector_events_received_total")
        log.info("event stored", extra={"lsid": event.lsid, "event": event.event})
    else:
        metrics.inc("connector_events_duplicate_total")
    return _text(200, "OK")
