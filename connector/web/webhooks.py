"""``POST /bomgar/events``: a thin view over events.parse_event and Store.record_event.

The appliance sends nothing else while it waits for this answer, so the view does no
remote calls: it checks the sender, validates the form, commits the event and answers.

Several appliances post here, each with its own ``outbound_event_token``. A token that belongs
to no appliance is refused before the form is read (401); the event's ``appliance_id`` must then
name an appliance the token belongs to (403), and the event is stored as that appliance's. The
one unnamed appliance of a single-appliance configuration takes any ``appliance_id``.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
from collections.abc import Sequence

from flask import Blueprint, Response, request

from connector.bomgar.events import is_known, parse_event
from connector.config import Config
from connector.config.sections import ApplianceSettings
from connector.errors import DataError, StoreUnavailable
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


def client_address(trusted_proxies: Sequence[str]) -> str:
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


def allowed(addr: str, networks: Sequence[str]) -> bool:
    """Tell whether an address lies in one of the allowed networks."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in _networks(tuple(networks)))


def token_holders(token: str, cfg: Config) -> list[ApplianceSettings]:
    """Return the appliances whose webhook token this is (compared in constant time)."""
    given = token.encode()
    return [
        a
        for a in cfg.appliances
        if a.webhook_token and hmac.compare_digest(given, a.webhook_token.encode())
    ]


def route(event_appliance_id: str, holders: list[ApplianceSettings]) -> ApplianceSettings | None:
    """Pick the appliance an event belongs to: the holder it names, else an unnamed holder."""
    for a in holders:
        if a.id and a.id == event_appliance_id:
            return a
    return next((a for a in holders if not a.id), None)


def exposure_warnings(cfg: Config) -> list[str]:
    """Say how the webhook settings leave /bomgar/events more open than it needs to be."""
    warnings = []
    if not cfg.appliances[0].id:
        warnings.append(
            "bomgar.appliance_id is empty: events naming any appliance are accepted from anyone"
            " who has the token; set it to your appliance's id"
        )
    allowed = _networks(tuple(cfg.webhook.allowed_networks))
    if any(n.prefixlen == 0 for n in allowed):
        warnings.append(
            "webhook.allowed_networks lets every address post events; list your appliance's"
            " addresses instead"
        )
    proxies = _networks(tuple(cfg.webhook.trusted_proxies))
    if proxies:
        local = _networks(("127.0.0.0/8", "::1/128"))
        # A request the proxy forwards without X-Forwarded-For comes from the proxy itself.
        covered = [
            str(a)
            for a in allowed
            if any(a.version == b.version and a.overlaps(b) for b in (*local, *proxies))
        ]
        if covered:
            warnings.append(
                f"webhook.allowed_networks includes {', '.join(covered)} while behind a trusted"
                " proxy: anything the proxy forwards (or anything on this host) counts as an"
                " allowed sender; allow only the appliance's addresses"
            )
    return warnings


@bp.post("/bomgar/events")
def receive_event() -> Response:
    """Accept one outbound event from the appliance."""
    svc = services()
    cfg = svc.config
    metrics = svc.metrics
    addr = client_address(cfg.webhook.trusted_proxies)
    if not allowed(addr, cfg.webhook.allowed_networks):
        metrics.inc("connector_events_rejected_total")
        log.warning("event refused: sender %s is outside webhook.allowed_networks", addr)
        return _text(403, "sender not allowed")
    limit = cfg.webhook.max_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        metrics.inc("connector_events_rejected_total")
        return _text(413, f"body of {length} bytes exceeds {limit}")
    # A chunked body has no Content-Length, and Werkzeug quietly stops reading it at the cap.
    # Read one byte past the limit ourselves, so a body that is too long is refused, not cut.
    request.max_content_length = limit + 1
    if len(request.get_data(cache=True)) > limit:
        metrics.inc("connector_events_rejected_total")
        log.warning("event refused from %s: chunked body exceeds %d bytes", addr, limit)
        return _text(413, f"body exceeds {limit} bytes")
    form = request.form  # parsed from the bytes read above
    token = request.args.get(TOKEN_PARAM) or form.get(TOKEN_PARAM) or ""
    holders = token_holders(token, cfg) if token else []
    if not holders:
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
    appliance = route(event.appliance_id, holders)
    if appliance is None:
        metrics.inc("connector_events_rejected_total")
        log.warning("event refused from %s: appliance_id not one of the token's appliances", addr)
        return _text(403, "unknown appliance_id")
    known = is_known(event.event)
    try:
        stored = svc.store.record_event(event, known=known, appliance=appliance.id)
    except StoreUnavailable as exc:
        # Not stored, so not acknowledged: the appliance sends it again.
        log.error("event not stored: %s", exc, extra={"lsid": event.lsid})
        return _text(503, "store unavailable; send again later")
    if stored:
        metrics.inc("connector_events_received_total", appliance=appliance.id)
        log.info(
            "event stored",
            extra={"lsid": event.lsid, "event": event.event, "appliance": appliance.id},
        )
    else:
        metrics.inc("connector_events_duplicate_total", appliance=appliance.id)
    return _text(200, "OK")
