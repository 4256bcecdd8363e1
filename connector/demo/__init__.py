"""``connector demo``: both emulators, the connector and one session, on free loopback ports.

This package (and tpa.py, ``connector demo --3pa``) and the tests are the only product-side code
that imports ``connector.sim``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from connector import config as config_module
from connector.config import Config

DEMO_TICKET = "a5000000000000000000000000000001"  # INC0000001 in the emulator's seed
DEMO_WEBHOOK_TOKEN = "demo-outbound-token"  # noqa: S105 - a throwaway value for loopback demos


def emulator_settings(
    servicenow_url: str, bomgar_url: str, store_path: str, webhook_token: str
) -> dict[str, Any]:
    """Return the settings that connect the connector to both emulators' seeded accounts."""
    return {
        "servicenow.instance_url": servicenow_url,
        "servicenow.username": "admin",
        "servicenow.password": "admin",
        "bomgar.appliance_url": bomgar_url,
        "bomgar.client_id": "connector-client",
        "bomgar.client_secret": "connector-secret",
        "webhook.token": webhook_token,
        "store.path": store_path,
    }


def demo_config(servicenow_url: str, bomgar_url: str, store_path: str, **overrides: Any) -> Config:
    """Build the embedded default configuration pointing at the emulators."""
    values: dict[str, Any] = {
        **emulator_settings(servicenow_url, bomgar_url, store_path, DEMO_WEBHOOK_TOKEN),
        "worker.poll_seconds": 0.1,
        "worker.retry_base_seconds": 0.2,
        "worker.retry_max_seconds": 2.0,
        "servicenow.write_settle_seconds": 2.0,
        "poller.interval_seconds": 5.0,
        "poller.overlap_seconds": 60.0,
        "poller.initial_lookback_seconds": 3600.0,
        "logging.level": "WARNING",
        "logging.format": "text",
    }
    values.update(overrides)
    return config_module.validate({}, file="<demo>", overrides=values)


@dataclass
class Stack:
    """Running emulators and connector."""

    servicenow_url: str
    bomgar_url: str
    connector_url: str
    config: Config
    services: Any
    servicenow_sim: Any = None  # the emulator's in-process state, for tests that peek
    bomgar_sim: Any = None
    # With several appliances: each one's emulator URL and webhook token, by appliance id.
    appliance_urls: dict[str, str] = field(default_factory=dict)
    appliance_tokens: dict[str, str] = field(default_factory=dict)


@contextmanager
def running_stack(
    workdir: str | None = None,
    *,
    worker: bool = True,
    bomgar_options: dict[str, Any] | None = None,
    servicenow_options: dict[str, Any] | None = None,
    appliances: Sequence[str] = (),
    **config_overrides: Any,
) -> Iterator[Stack]:
    """Start both emulators, the connector's web app and (optionally) its worker in threads.

    ``appliances`` names several appliances: one appliance emulator each, sending its id and its
    own webhook token, configured as ``bomgar.appliances`` (the first is ``bomgar_url``).
    """
    from connector.app import create_app
    from connector.importer.runner import run_worker
    from connector.sim.bomgar import close_app
    from connector.sim.bomgar import create_app as bomgar_app
    from connector.sim.runtime import ServerThread
    from connector.sim.servicenow import create_app as servicenow_app
    from connector.tpa.worker import start as start_tpa

    with ExitStack() as cleanup:
        if workdir is None:
            workdir = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="connector-demo-"))
        # Bind the connector's socket first (port 0, no race), and hand it the app once built.
        holder: dict[str, Any] = {}
        web = ServerThread(lambda environ, start: holder["app"](environ, start)).start()
        cleanup.callback(web.stop)
        sn_app = servicenow_app(servicenow_options or {})
        sn = ServerThread(sn_app).start()
        cleanup.callback(sn.stop)
        tokens = {a: f"{DEMO_WEBHOOK_TOKEN}-{a}" for a in appliances} or {"": DEMO_WEBHOOK_TOKEN}
        urls: dict[str, str] = {}
        b_app: Any = None
        for ident, token in tokens.items():
            b_opts: dict[str, Any] = {
                "events_urls": [f"{web.url}/bomgar/events?outbound_event_token={token}"],
                "retry_interval": 0.5,
                "retry_period": 120.0,
                **({"appliance_id": ident} if ident else {}),
            }
            b_opts.update(bomgar_options or {})
            app_one = bomgar_app(b_opts)
            cleanup.callback(close_app, app_one)
            server = ServerThread(app_one).start()
            cleanup.callback(server.stop)
            urls[ident] = server.url
            b_app = b_app or app_one
        bg_url = next(iter(urls.values()))
        if appliances:
            config_overrides = {
                "bomgar.appliances": [
                    {
                        "id": ident,
                        "appliance_url": urls[ident],
                        "client_id": "connector-client",
                        "client_secret": "connector-secret",
                        "webhook_token": tokens[ident],
                    }
                    for ident in appliances
                ],
                "bomgar.appliance_url": "",
                "bomgar.client_id": "",
                "bomgar.client_secret": "",
                **config_overrides,
            }
        cfg = demo_config(sn.url, bg_url, str(Path(workdir) / "connector.db"), **config_overrides)
        app = holder["app"] = create_app(cfg)
        svc = app.extensions["connector"]
        if worker:
            stop_worker = threading.Event()
            worker_thread = threading.Thread(
                target=run_worker,
                args=(svc.importer(), stop_worker),
                # 3PA's threads, poller and catalog sync when tpa.enabled (connector/demo/tpa.py)
                kwargs={"start_more": lambda scheduler: start_tpa(svc, scheduler)},
                name="demo-worker",
                daemon=True,
            )
            worker_thread.start()
            cleanup.callback(worker_thread.join, 30)
            cleanup.callback(stop_worker.set)
        yield Stack(
            sn.url,
            bg_url,
            web.url,
            cfg,
            svc,
            servicenow_sim=sn_app.extensions["servicenow_sim"],
            bomgar_sim=b_app.extensions["bomgar_sim"],
            appliance_urls=urls if appliances else {},
            appliance_tokens=tokens if appliances else {},
        )


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def landed(stack: Stack, lsid: str) -> dict[str, Any]:
    """Read back what the import wrote for one session."""
    from connector.servicenow import query as q

    sn = stack.services.servicenow
    by_lsid = q.equals("u_lsid", lsid, q.lsid)
    session = sn.query("u_bomgar_session", by_lsid)
    surveys = sn.query("u_bomgar_survey_response", by_lsid, order_by="u_question")
    ticket_id = session[0]["u_task"] if session else ""
    notes = (
        sn.query(
            "sys_journal_field",
            q.all_of(
                q.equals("element_id", ticket_id, q.sys_id),
                q.equals("element", "work_notes"),
                q.like("value", f"Bomgar session {lsid}"),
            ),
        )
        if ticket_id
        else []
    )
    attachments = sn.list_attachments("u_bomgar_session", session[0]["sys_id"]) if session else []
    return {"session": session, "surveys": surveys, "notes": notes, "attachments": attachments}


def run_demo(*, keep_running: bool, timeout: float, echo: Callable[[str], None]) -> None:
    """Play one session end to end and print what landed in ServiceNow."""
    from connector.errors import ConnectorError

    with running_stack() as stack:
        echo(f"ServiceNow emulator  {stack.servicenow_url}  (admin / admin)")
        echo(f"appliance emulator   {stack.bomgar_url}")
        echo(f"connector            {stack.connector_url}  (health: /health, metrics: /metrics)")
        reply = requests.post(
            f"{stack.bomgar_url}/_sim/sessions", json={"external_key": DEMO_TICKET}, timeout=30
        )
        reply.raise_for_status()
        lsid = reply.json()["lsid"]
        echo(f"played a support session on INC0000001: lsid {lsid}")
        echo("waiting for the appliance's outbound event and the import ...")
        store = stack.services.store
        if not wait_for(lambda: store.job_state(lsid) in ("done", "dead"), timeout):
            raise ConnectorError(f"session {lsid} was not imported within {timeout:.0f}s")
        if store.job_state(lsid) != "done":
            row = next(r for r in store.jobs() if r.lsid == lsid)
            raise ConnectorError(f"session {lsid} failed: {row.last_error}")
        echo_landed(landed(stack, lsid), echo)
        if keep_running:
            hold_until_interrupted(echo)


def hold_until_interrupted(echo: Callable[[str], None]) -> None:
    """Keep a demo's processes up until Ctrl-C."""
    echo("\neverything keeps running; press Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        echo("stopping")


def echo_landed(data: dict[str, Any], echo: Callable[[str], None]) -> None:
    """Print the work note, the session record and the survey rows."""
    echo("\n== work note on the incident ==")
    for note in data["notes"]:
        echo(note["value"])
    echo("\n== u_bomgar_session ==")
    for record in data["session"]:
        for name in sorted(record):
            if name.startswith("u_"):
                value = record[name].replace("\n", " | ")
                echo(f"  {name:24} {value[:100]}")
    echo(f"\n== u_bomgar_survey_response ({len(data['surveys'])} rows) ==")
    for row in data["surveys"]:
        answer = row["u_answer"].replace("\n", " ")[:40]
        question = row.get("u_question_label") or row["u_question"]
        echo(f"  {row['u_survey_type']:15} {question[:40]:40} {answer}")
    if data["attachments"]:
        echo("\n== attachments on the session record ==")
        for att in data["attachments"]:
            echo(f"  {att['file_name']} ({att['size_bytes']} bytes)")
