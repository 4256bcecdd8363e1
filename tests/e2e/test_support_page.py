"""Get Support Now: signed links, the page, and the whole flow in a real headless Chromium."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode

import pytest
import requests

from connector import signing
from connector.demo import Stack, running_stack, wait_for

pytestmark = pytest.mark.slow

SECRET = "support-link-secret"  # noqa: S105 - loopback test value
INC1 = "a5000000000000000000000000000001"  # caller Abel Tuter
INC2 = "a5000000000000000000000000000002"  # caller Beth Anglin
ABEL = "a2000000000000000000000000000001"
BETH = "a2000000000000000000000000000002"
OSCAR = "a1000000000000000000000000000003"
JANE = "a1000000000000000000000000000001"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Run both emulators, the connector and its worker; seed each caller's last session."""
    with running_stack(**{"support.signing_secret": SECRET}) as s:
        sn = s.services.servicenow
        # Abel was last helped by Jane Rep (logged in); Beth by Oscar Offline (logged out).
        sn.create_record(
            "u_bomgar_session",
            {
                "u_lsid": "prior-abel",
                "u_task": INC1,
                "u_rep_name": "Jane Rep",
                "u_primary_rep": JANE,
                "u_end_time": "2026-01-05 10:00:00",
            },
        )
        sn.create_record(
            "u_bomgar_session",
            {
                "u_lsid": "prior-beth",
                "u_task": INC2,
                "u_rep_name": "Oscar Offline",
                "u_primary_rep": OSCAR,
                "u_end_time": "2026-01-05 10:00:00",
            },
        )
        yield s


def issued_ticket(stack: Stack, key: str) -> tuple[str, str] | None:
    """Return the ticket and channel an issued external key names, if its proof holds."""
    issued = signing.verify_external_key(stack.services.key_secret, key)
    return None if issued is None else (issued.ticket, issued.channel)


def link(stack: Stack, sys_id: str, user: str, *, ttl: int = 300, now: float | None = None) -> str:
    query = signing.link_query(SECRET, "incident", sys_id, user, ttl=ttl, now=now)
    return f"{stack.connector_url}/support/incident/{sys_id}?{query}"


def test_valid_link_names_the_last_rep_when_logged_in(stack: Stack) -> None:
    """Abel's page offers Jane Rep (who helped last and is logged in) and the next available."""
    page = requests.get(link(stack, INC1, ABEL), timeout=30)
    assert page.status_code == 200
    assert "Chat with Jane Rep" in page.text
    assert "Next available representative" in page.text
    assert "Printer offline on 3rd floor" in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_last_rep_logged_out_is_not_offered(stack: Stack) -> None:
    """Beth's last rep (Oscar) is not logged in, so only the next available rep is offered."""
    page = requests.get(link(stack, INC2, BETH), timeout=30)
    assert page.status_code == 200
    assert "Oscar" not in page.text
    assert 'value="rep"' not in page.text
    assert "Next available representative" in page.text


def test_expired_link_is_410(stack: Stack) -> None:
    """A link whose expiry has passed is refused with 410 and a way forward."""
    page = requests.get(link(stack, INC1, ABEL, ttl=60, now=1_000_000), timeout=30)
    assert page.status_code == 410
    assert "expired" in page.text


def test_tampered_link_is_403(stack: Stack) -> None:
    """Changing the ticket in a signed link (keeping its signature) is refused with 403."""
    url = link(stack, INC1, ABEL).replace(f"/incident/{INC1}", f"/incident/{INC2}")
    page = requests.get(url, timeout=30)
    assert page.status_code == 403
    assert "not valid" in page.text
    assert "VPN" not in page.text


def test_another_callers_ticket_is_403(stack: Stack) -> None:
    """A correctly signed link for Beth on Abel's ticket is refused: not her ticket."""
    page = requests.get(link(stack, INC1, BETH), timeout=30)
    assert page.status_code == 403
    assert "own tickets" in page.text
    assert "Printer" not in page.text


def test_start_rechecks_the_signature(stack: Stack) -> None:
    """Posting the choice with a forged signature starts nothing."""
    before = requests.get(f"{stack.bomgar_url}/_sim/start_requests", timeout=10).json()
    reply = requests.post(
        f"{stack.connector_url}/support/incident/{INC1}/start",
        data={"user": ABEL, "expires": "9999999999", "sig": "AAAA", "choice": "next"},
        allow_redirects=False,
        timeout=30,
    )
    assert reply.status_code == 403
    after = requests.get(f"{stack.bomgar_url}/_sim/start_requests", timeout=10).json()
    assert after == before


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Start Debian's headless Chromium through its chromedriver (nothing downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    profile = tempfile.mkdtemp(prefix="connector-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _start_in_browser(stack: Stack, driver, choice: str) -> dict:  # type: ignore[no-untyped-def]
    """Open Abel's signed link, pick a choice, submit; return the appliance's start request."""
    from selenium.webdriver.common.by import By

    before = len(requests.get(f"{stack.bomgar_url}/_sim/start_requests", timeout=10).json())
    driver.get(link(stack, INC1, ABEL))
    assert driver.find_element(By.TAG_NAME, "h1").text == "IT remote support for INC0000001"
    radio = driver.find_element(By.ID, f"choice-{choice}")
    # Clicking the label (not the input) checks the radio: the label is wired up for a11y.
    driver.find_element(By.CSS_SELECTOR, f"label[for=choice-{choice}]").click()
    assert radio.is_selected()
    driver.find_element(By.ID, "start-chat").click()
    assert wait_for(lambda: "Chat with support" in driver.page_source, 15)
    assert driver.current_url.startswith(f"{stack.bomgar_url}/api/start_session?")
    started = requests.get(f"{stack.bomgar_url}/_sim/start_requests", timeout=10).json()
    assert len(started) == before + 1
    return started[-1]


def _finish_and_check_import(stack: Stack, lsid: str, rep: int) -> None:
    """Drive the chat to its end on the appliance and check it is imported onto INC0000001."""
    sim = f"{stack.bomgar_url}/_sim/sessions/{lsid}"
    requests.post(f"{sim}/join", json={"rep": rep}, timeout=10).raise_for_status()
    requests.post(f"{sim}/chat", json={"from": "customer", "text": "hello"}, timeout=10)
    requests.post(f"{sim}/end", json={}, timeout=10).raise_for_status()
    store = stack.services.store
    assert wait_for(lambda: store.job_state(lsid) in ("done", "dead"), 30)
    assert store.job_state(lsid) == "done"
    rows = stack.services.servicenow.query("u_bomgar_session", f"u_lsid={lsid}")
    assert len(rows) == 1
    assert rows[0]["u_task"] == INC1
    assert rows[0]["u_customer_name"] == "Abel Tuter"


@pytest.mark.browser
def test_browser_chat_with_the_last_rep_is_imported_onto_the_ticket(stack: Stack, browser) -> None:  # type: ignore[no-untyped-def]
    """Choosing Jane Rep starts click-to-chat in her queue with the ticket; it lands on INC1."""
    request = _start_in_browser(stack, browser, "rep")
    params = request["params"]
    assert params["c2cjs"] == "1"
    assert params["id"] == "1"
    assert params["customer.name"] == "Abel Tuter"
    assert params["customer.details"] == "Printer offline on 3rd floor"
    assert issued_ticket(stack, params["session.custom.external_key"]) == (INC1, "s")
    queues = requests.get(f"{stack.bomgar_url}/_sim/queues", timeout=10).json()
    assert request["lsid"] in str(queues.get("rep:1"))
    _finish_and_check_import(stack, request["lsid"], rep=1)


@pytest.mark.browser
def test_browser_next_available_rep_is_imported_onto_the_ticket(stack: Stack, browser) -> None:  # type: ignore[no-untyped-def]
    """Choosing the next available rep starts click-to-chat in the general queue, onto INC1."""
    request = _start_in_browser(stack, browser, "next")
    params = request["params"]
    assert "id" not in params
    assert issued_ticket(stack, params["session.custom.external_key"]) == (INC1, "s")
    queues = requests.get(f"{stack.bomgar_url}/_sim/queues", timeout=10).json()
    assert request["lsid"] in str(queues.get("general"))
    _finish_and_check_import(stack, request["lsid"], rep=2)


def test_signed_link_query_is_what_servicenow_would_build() -> None:
    """link_query emits user, expires and a base64 sig that verify accepts (no hidden state)."""
    q = {
        k: v[0]
        for k, v in parse_qs(signing.link_query(SECRET, "incident", INC1, ABEL, ttl=60)).items()
    }
    assert set(q) == {"user", "expires", "sig"}
    assert urlencode(q)
    signing.verify(SECRET, "incident", INC1, q["user"], q["expires"], q["sig"], max_ttl=60)
