"""A remote system that is down the slow way: it accepts TCP connections and never answers."""

from __future__ import annotations

import socket
import threading


class HangingServer:
    """Accept connections on a free loopback port, hold them and never answer."""

    def __init__(self, backlog: int = 256) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        """Stop listening and drop every held connection."""
        self.sock.close()
        for conn in self.accepted:
            conn.close()
