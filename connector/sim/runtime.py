"""Run the emulators: a socket server in a thread (tests) or under gunicorn (CLI, benchmarks)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from connector.serving import serve_gunicorn


class QuietRequestHandler(WSGIRequestHandler):
    """Serve requests without an access-log line each (tests and demos stay readable)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class ServerThread:
    """Serve a WSGI app on a real loopback socket from a background thread."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        quiet: bool = True,
    ) -> None:
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            app,
            threaded=True,
            ssl_context=ssl_context,
            request_handler=QuietRequestHandler if quiet else None,
        )
        self.host = host
        self.port = self._server.server_port
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://{host}:{self.port}"
        self._thread = threading.Thread(
            # A short poll: stop() waits for the loop to notice, 0.5 s by default, per server.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"server-{self.port}",
            daemon=True,
        )

    def start(self) -> ServerThread:
        """Start serving and return self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_emulator(
    name: str,
    app_factory: Callable[[], Flask],
    *,
    host: str,
    port: int,
    threads: int,
    tls_dir: str | None = None,
) -> None:
    """Serve an emulator under gunicorn (one worker: state is in-process) and print its URL."""
    import click

    bind = None
    if port == 0:
        # gunicorn cannot report an ephemeral port, so bind here and hand it the socket.
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        sock.listen(128)
        sock.set_inheritable(True)
        port = sock.getsockname()[1]
        bind = f"fd://{sock.fileno()}"
    certfile = keyfile = None
    scheme = "http"
    if tls_dir:
        paths = make_tls_files(tls_dir)
        certfile, keyfile, scheme = paths["cert"], paths["key"], "https"
        click.echo(f"{name} emulator CA certificate: {paths['ca']}")
    click.echo(f"{name} emulator listening on {scheme}://{host}:{port}")
    sys.stdout.flush()
    serve_gunicorn(
        app_factory,
        host=host,
        port=port,
        bind=bind,
        workers=1,
        threads=threads,
        certfile=certfile,
        keyfile=keyfile,
    )


def make_tls_files(
    state_dir: str | os.PathLike[str], hostnames: tuple[str, ...] = ("localhost",)
) -> dict[str, str]:
    """Create (or reuse) a private CA and a server certificate for loopback; return their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    paths = {
        "ca": str(state / "ca.pem"),
        "cert": str(state / "server.pem"),
        "key": str(state / "server-key.pem"),
    }
    if all(Path(p).exists() for p in paths.values()):
        return paths

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "connector emulator CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    sans += [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    Path(paths["ca"]).write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    Path(paths["cert"]).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = Path(paths["key"])
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return paths


def server_ssl_context(tls: dict[str, str]) -> ssl.SSLContext:
    """Build a server-side SSL context from make_tls_files' paths."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls["cert"], tls["key"])
    return ctx
