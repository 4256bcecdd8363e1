"""A lazily generated SupportSession report of many sessions, for the memory test."""

from __future__ import annotations

EVENT = (
    '<event timestamp="1718011002" event_type="Chat Message">'
    '<performed_by type="representative" gsnumber="5">Jane Rep</performed_by>'
    "<body>line {k} of a chat that is long enough to matter for memory</body></event>"
)
SESSION = (
    '<session lsid="{lsid:032x}"><session_type>support</session_type><lseq>{i}</lseq>'
    '<start_time timestamp="1718010900">2024-06-10T09:15:00+00:00</start_time>'
    '<end_time timestamp="1718011865">2024-06-10T09:31:05+00:00</end_time>'
    "<duration>00:16:05</duration>"
    '<customer_list><customer gsnumber="2"><username>abel</username>'
    "<hostname>WS-LAB-0042</hostname></customer></customer_list>"
    "<session_details>"
    + "".join(EVENT.replace("{k}", str(k)) for k in range(10))
    + "</session_details>"
    "</session>"
)


class SessionStream:
    """A read()-able stream producing a session_list of ``count`` sessions without holding it."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.next = 0
        self.buffer = b'<session_list xmlns="http://www.bomgar.com/namespaces/API/reporting">'
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        """Return up to ``size`` bytes, generating sessions on demand."""
        size = size if size and size > 0 else 65536
        while len(self.buffer) < size and self.next <= self.count:
            if self.next == self.count:
                self.buffer += b"</session_list>"
            else:
                self.buffer += SESSION.format(lsid=self.next, i=self.next).encode()
            self.next += 1
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        self.bytes_read += len(out)
        return out
