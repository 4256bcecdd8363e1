"""Options of the appliance emulator, with switches for the unconfirmed variants."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# Default namespace pair first: what real RS appliances return (best evidence in the reference).
NAMESPACES: dict[str, tuple[str, str]] = {
    "bomgar": (
        "http://www.bomgar.com/namespaces/API/command",
        "http://www.bomgar.com/namespaces/API/reporting",
    ),
    "bomgar-https": (
        "https://www.bomgar.com/namespaces/API/command",
        "https://www.bomgar.com/namespaces/API/reporting",
    ),
    "beyondtrust-sra": (
        "http://www.beyondtrust.com/sra/namespaces/API/command",
        "http://www.beyondtrust.com/sra/namespaces/API/reporting",
    ),
    "beyondtrust": (
        "https://www.beyondtrust.com/namespaces/API/command",
        "https://www.beyondtrust.com/namespaces/API/reporting",
    ),
}

_CHOICES: dict[str, tuple[str, ...]] = {
    "namespace": tuple(NAMESPACES),
    "error_placement": ("root", "nested"),
    "bad_token_reply": ("json", "xml"),
    "undeclared_custom": ("accept", "ignore", "error"),
    "running_end_time": ("absent", "empty"),
    "expires_format": ("text", "attribute", "both"),
}


@dataclass
class SimOptions:
    """Everything create_app accepts in its options dict."""

    seed_file: str | None = None
    events_urls: list[str] = field(default_factory=list)
    retry_interval: float = 10.0  # seconds between attempts at a failing head event
    retry_period: float = 3600.0  # give up on an event this long after its first attempt
    delivery_timeout: float = 5.0  # per POST to a recipient
    event_version: str = "3"
    token_lifetime: float = 3600.0
    max_tokens: int = 30  # live tokens per API account; the next one evicts the oldest
    appliance_id: str = "bomgar-sim-3c1e5a7f-0d24-4b8e-9a61-5f2c8e7d4b10"
    namespace: str = "bomgar"
    error_placement: str = "root"  # <error> as the document root, or nested in the usual root
    error_status: int = 200  # HTTP status sent with an XML <error>
    bad_token_reply: str = "json"  # XML APIs: 401 + JSON access_denied, or an XML <error>
    legacy_auth: bool = False  # accept username/password parameters (upgraded appliances)
    json_token_request: bool = True  # accept grant_type in a JSON body too
    undeclared_custom: str = "accept"  # session.custom.<name> not in the seed's custom_fields
    running_end_time: str = "absent"  # running sessions: no end_time element, or an empty one
    expires_format: str = "text"  # session_key/expires: epoch text, timestamp attribute, or both
    session_key_ttl: int = 3600  # default ttl of generate_session_key
    config_rate_per_second: int = 20
    config_rate_per_hour: int = 15000
    rate_limit_xml: bool = False  # apply the same limits to the XML APIs
    faults: dict[str, Any] = field(default_factory=dict)  # FaultSettings keys + malformed_rate
    public_url: str | None = None  # base of key_url and chat URLs; default: the request's host

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SimOptions:
        """Build options from a dict, rejecting unknown keys and values outside the variants."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown bomgar emulator option(s): {', '.join(unknown)}")
        if "events_urls" in data:
            data["events_urls"] = list(data["events_urls"] or [])
        opts = cls(**data)
        for name, choices in _CHOICES.items():
            if getattr(opts, name) not in choices:
                raise ValueError(f"option {name} must be one of {', '.join(choices)}")
        for name in ("retry_interval", "retry_period", "token_lifetime", "delivery_timeout"):
            if float(getattr(opts, name)) <= 0:
                raise ValueError(f"option {name} must be positive")
        return opts

    @property
    def command_ns(self) -> str:
        """Return the command API namespace."""
        return NAMESPACES[self.namespace][0]

    @property
    def reporting_ns(self) -> str:
        """Return the reporting API namespace."""
        return NAMESPACES[self.namespace][1]
