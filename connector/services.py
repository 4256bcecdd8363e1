"""Build the connector's long-lived objects from a Config, once per process.

One appliance client per configured appliance (``bomgar_clients``, by id); ``bomgar`` is the
first appliance's, which the ServiceNow-side actions (session keys, the support page, Jump) use.
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from connector.config import Config
from connector.config.sections import ApplianceSettings
from connector.health import RemoteChecks
from connector.metrics import Metrics
from connector.store import Store

if TYPE_CHECKING:
    from connector.bomgar.client import BomgarClient
    from connector.importer.worker import Importer
    from connector.mapping.engine import MappingSet
    from connector.servicenow.client import ServiceNowClient


def key_secret(config: Config, store: Store) -> bytes:
    """Return the HMAC key of issued external keys: the configured one, else the store's own."""
    configured = config.security.external_key_secret
    return configured.encode("utf-8") if configured else store.key_secret()


class Services:
    """Config, store, metrics, mappings and the two clients, built on first use."""

    def __init__(self, config: Config, *, store: Store | None = None) -> None:
        self.config = config
        self.metrics = Metrics()
        self.remote_checks = RemoteChecks()
        self._store = store
        self._lock = threading.Lock()

    @cached_property
    def store(self) -> Store:
        """Return the store (SQLite or PostgreSQL), migrated, owning rows from before ids."""
        if self._store is not None:
            return self._store
        c = self.config.store
        store = Store(
            c.location(),
            synchronous=c.synchronous,
            pool_size=c.pool_size,
            migrate=c.migrate_on_start,
        )
        # Rows stored before appliances had ids belong to the first appliance.
        store.adopt_unnamed(self.config.appliances[0].id)
        return store

    @cached_property
    def key_secret(self) -> bytes:
        """Return the HMAC key that proves an external key was issued by this connector."""
        return key_secret(self.config, self.store)

    def mapping_paths(self) -> list[Path]:
        """Return the mapping files to load: the configured ones, else the built-in ones."""
        from connector.mapping import default_mapping_paths

        return self.config.mapping_files() or default_mapping_paths()

    @cached_property
    def mappings(self) -> MappingSet:
        """Return the compiled mappings (errors surface at start, not per session)."""
        from connector.mapping.engine import MappingSet

        return MappingSet.load(self.mapping_paths())

    @cached_property
    def servicenow(self) -> ServiceNowClient:
        """Return the ServiceNow client."""
        from connector.servicenow.client import ServiceNowClient

        c = self.config
        oauth = None
        if c.servicenow.oauth.client_id:
            oauth = {
                "client_id": c.servicenow.oauth.client_id,
                "client_secret": c.servicenow.oauth.client_secret,
                "grant_type": c.servicenow.oauth.grant_type,
                "username": c.servicenow.oauth.username,
                "password": c.servicenow.oauth.password,
            }
        return ServiceNowClient(
            c.servicenow.instance_url,
            username=c.servicenow.username or None,
            password=c.servicenow.password or None,
            oauth=oauth,
            verify=c.servicenow.verify_tls,
            timeout=(5.0, c.servicenow.timeout_seconds),
            max_concurrent=c.servicenow.max_concurrent,
        )

    @cached_property
    def bomgar_clients(self) -> dict[str, BomgarClient]:
        """Return one appliance client per configured appliance, by appliance id."""
        return {a.id: _bomgar_client(a) for a in self.config.appliances}

    @cached_property
    def bomgar(self) -> BomgarClient:
        """Return the first appliance's client (the one ServiceNow-side actions use)."""
        return self.bomgar_clients[self.config.appliances[0].id]

    def importer(self) -> Importer:
        """Build an Importer over these services."""
        from connector.importer.worker import Importer

        return Importer(
            config=self.config,
            store=self.store,
            bomgar=self.bomgar_clients,
            servicenow=self.servicenow,
            mappings=self.mappings,
            metrics=self.metrics,
            key_secret=self.key_secret,
        )


def _bomgar_client(appliance: ApplianceSettings) -> BomgarClient:
    from connector.bomgar.client import BomgarClient

    return BomgarClient(
        appliance.appliance_url,
        appliance.client_id,
        appliance.client_secret,
        verify=appliance.verify_tls,
        timeout=(5.0, appliance.timeout_seconds),
        use_ns_paths=appliance.use_ns_paths,
        max_per_second=appliance.max_requests_per_second,
        max_report_bytes=appliance.max_report_bytes,
    )
