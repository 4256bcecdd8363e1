"""Write-retry rules checked against real sockets (the exceptions urllib3 really raises)."""

from __future__ import annotations

import socket
import threading

import pytest

from connector.errors import TransportError


def test_refused_connection_retries_a_write(make_client, sleeps):
    """A POST to a port nobody listens on was never sent, so every attempt is used."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}")
    with pytest.raises(TransportError):
        client.create_record("incident", {"short_description": "x"})
    assert len(sleeps) == 3


def test_connection_dropped_after_sending_a_write_is_not_retried(make_client, sleeps):
    """A POST whose connection is closed after the server read it is raised at once."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    server.settimeout(0.05)
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(conn)
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        client = make_client(f"http://127.0.0.1:{port}")
        with pytest.raises(TransportError):
            client.create_record("incident", {"short_description": "x"})
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
    assert sleeps == []
    assert len(accepted) == 1
