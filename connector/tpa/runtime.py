"""Build 3PA's long-lived objects from the connector's Services (worker.start runs them)."""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.config import Config
from connector.errors import ConfigError, ConfigProblem, ConnectorError

if TYPE_CHECKING:
    from connector.services import Services
    from connector.tpa.directory import Directory
    from connector.tpa.mapping import TpaMapping
    from connector.tpa.provision import Provisioner
    from connector.tpa.records import Records
    from connector.tpa.scim import SapIdentity

log = logging.getLogger(__name__)


def check(config: Config) -> list[ConfigProblem]:
    """Return what is missing for 3PA to run (nothing when tpa.enabled is false)."""
    if not config.tpa.enabled:
        return []
    problems = []
    file = config.source
    for key in ("tpa.ldap.url", "tpa.ldap.bind_dn", "tpa.ldap.users_base", "tpa.ldap.groups_base"):
        if not config.value(key):
            problems.append(ConfigProblem(file, key, "a value when tpa.enabled is true", "nothing"))
    url = str(config.tpa.ldap.url).lower()
    if url and not url.startswith(("ldap://", "ldaps://")):
        problems.append(
            ConfigProblem(file, "tpa.ldap.url", "an ldap:// or ldaps:// URL", config.tpa.ldap.url)
        )
    if config.tpa.scim.url and not config.tpa.scim.token:
        problems.append(
            ConfigProblem(file, "tpa.scim.token", "a token when tpa.scim.url is set", "nothing")
        )
    return problems


EXTRA_MISSING = (
    "3PA needs the '3pa' extra: install Debian's libldap2-dev and libsasl2-dev, then"
    " pip install -e '.[3pa]' (README, 'Third Party Access (3PA)', set-up steps 1 and 2)"
)


def require_extra() -> None:
    """Raise ConnectorError naming the set-up step when python-ldap or scim2 is missing."""
    import importlib.util

    for module in ("ldap", "scim2_client", "scim2_models"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise ConnectorError(f"{EXTRA_MISSING}; missing: {module}")


class TpaServices:
    """The directory, SAP and ServiceNow sides of 3PA, built on first use."""

    def __init__(self, services: Services) -> None:
        require_extra()
        problems = check(services.config)
        if problems:
            raise ConfigError(problems)
        self.services = services
        self.config = services.config
        self.store = services.store
        self.metrics = services.metrics

    @cached_property
    def records(self) -> Records:
        """Return the 3PA tables' reader and writer."""
        from connector.tpa.records import Records

        return Records(self.services.servicenow)

    @cached_property
    def mapping(self) -> TpaMapping:
        """Return the compiled 3PA mapping (errors surface at start)."""
        from connector.tpa.mapping import load_mapping

        paths = [Path(p) for p in self.config.tpa.mappings]
        return load_mapping(paths or None, self.config.tpa.ldap.profile)

    @cached_property
    def directory(self) -> Directory:
        """Return the LDAP directory client."""
        from connector.tpa.directory import Directory

        c = self.config
        return Directory(
            c.tpa.ldap.url,
            c.tpa.ldap.bind_dn,
            c.tpa.ldap.bind_password,
            users_base=c.tpa.ldap.users_base,
            groups_base=c.tpa.ldap.groups_base,
            profile=c.tpa.ldap.profile,
            timeout=float(c.tpa.ldap.timeout_seconds),
            start_tls=bool(c.tpa.ldap.start_tls),
            verify_tls=c.tpa.ldap.verify_tls,
        )

    @cached_property
    def sap(self) -> SapIdentity | None:
        """Return the SCIM client for SAP Cloud Identity Services, or None when not configured."""
        if not self.config.tpa.scim.url:
            return None
        from connector.tpa.scim import SapIdentity

        return SapIdentity(
            self.config.tpa.scim.url,
            self.config.tpa.scim.token,
            verify=self.config.tpa.scim.verify_tls,
            timeout=float(self.config.tpa.scim.timeout_seconds),
        )

    def provisioner(self) -> Provisioner:
        """Build the provisioner over these services."""
        from connector.tpa.provision import Provisioner

        return Provisioner(
            records=self.records,
            directory=self.directory,
            sap=self.sap,
            mapping=self.mapping,
            store=self.store,
            metrics=self.metrics,
        )


_web_lock = threading.Lock()


def for_app(extensions: dict[str, Any], services: Services) -> TpaServices:
    """Return the web app's TpaServices, kept in ``app.extensions['tpa']``."""
    with _web_lock:
        if "tpa" not in extensions:
            extensions["tpa"] = TpaServices(services)
        return extensions["tpa"]
