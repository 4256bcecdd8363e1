"""Start-up warnings for a webhook left more open than it needs to be."""

from __future__ import annotations

import pytest

from connector.cli import main
from connector.config import validate
from connector.web.webhooks import exposure_warnings

BASE = {
    "servicenow.instance_url": "https://acme.service-now.com",
    "servicenow.username": "svc",
    "servicenow.password": "pw",
    "bomgar.appliance_url": "https://support.example.com",
    "bomgar.client_id": "id",
    "bomgar.client_secret": "secret",
    "webhook.token": "t",
    "bomgar.appliance_id": "appl-1",
    "webhook.allowed_networks": ["192.0.2.10/32"],
}


def warnings(**changes: object) -> list[str]:
    return exposure_warnings(validate({}, overrides={**BASE, **changes}))


def test_a_tight_configuration_warns_about_nothing():
    """The appliance's own address, an appliance_id and no proxy: no warning."""
    assert warnings() == []


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"bomgar.appliance_id": ""}, "bomgar.appliance_id is empty"),
        ({"webhook.allowed_networks": ["0.0.0.0/0"]}, "lets every address post"),
        ({"webhook.allowed_networks": ["::/0"]}, "lets every address post"),
        (
            {
                "webhook.trusted_proxies": ["10.0.0.5/32"],
                "webhook.allowed_networks": ["127.0.0.0/8"],
            },
            "127.0.0.0/8 while behind a trusted proxy",
        ),
        (
            {
                "webhook.trusted_proxies": ["10.0.0.5/32"],
                "webhook.allowed_networks": ["10.0.0.0/24"],
            },
            "10.0.0.0/24 while behind a trusted proxy",
        ),
    ],
)
def test_each_opening_is_named(changes, needle):
    """No appliance_id, an allow-all network, or the proxy's own network allowed: each is said."""
    found = warnings(**changes)
    assert len(found) == 1
    assert needle in found[0]


def test_loopback_without_a_proxy_is_fine():
    """The default loopback allow-list is fine when no proxy forwards to the connector."""
    assert warnings(**{"webhook.allowed_networks": ["127.0.0.0/8", "::1/128"]}) == []


def test_check_config_prints_the_warnings(tmp_path, capsys):
    """connector check-config shows the same warnings without failing."""
    path = tmp_path / "connector.yaml"
    path.write_text("\n".join(f"{k}: {v!r}" for k, v in BASE.items() if k != "bomgar.appliance_id"))
    with pytest.raises(SystemExit) as done:
        main(["check-config", "--config", str(path)])
    assert done.value.code == 0
    assert "warning: webhook more open than needed: bomgar.appliance_id" in capsys.readouterr().out
