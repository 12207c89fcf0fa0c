"""Real local peers for the notification tests and benchmarks: an SMTP server (aiosmtpd)
that can be taken down and brought back on the same port, and an HTTP receiver (the
standard library's threading server) for the SMS API and webhooks."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Mail:
    to: list[str]
    message_id: str
    subject: str
    body: str
    at: float  # time.time() when the server took it


class _Handler:
    def __init__(self, box: list[Mail], lock: threading.Lock) -> None:
        self.box, self.lock = box, lock

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(("plain",))
        mail = Mail(list(envelope.rcpt_tos), str(msg["Message-ID"]), str(msg["Subject"]),
                    "" if body is None else body.get_content(), time.time())
        with self.lock:
            self.box.append(mail)
        return "250 OK"


@dataclass
class SmtpPeer:
    """``up()`` / ``down()`` start and stop the server on one port; ``mails`` keeps all."""

    port: int = field(default_factory=free_port)
    mails: list[Mail] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ctl: Controller | None = None

    def up(self) -> SmtpPeer:
        if self._ctl is None:
            self._ctl = Controller(_Handler(self.mails, self._lock), hostname="127.0.0.1",
                                   port=self.port)
            self._ctl.start()
        return self

    def down(self) -> None:
        if self._ctl is not None:
            self._ctl.stop()
            self._ctl = None

    def received(self) -> list[Mail]:
        with self._lock:
            return list(self.mails)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def json(self) -> Any:
        return json.loads(self.body)


class HttpPeer:
    """Records every POST; answers ``status`` (tests change it to make the peer fail)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status = 201
        self._lock = threading.Lock()
        peer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                req = Request(self.path, {k.lower(): v for k, v in self.headers.items()},
                              self.rfile.read(n))
                with peer._lock:
                    peer.requests.append(req)
                self.send_response(peer.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def received(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpProcess:
    """An aiosmtpd server in a process of its own (``python -m tests.api.peers PORT FILE``),
    so a load generator's threads do not slow it down; each mail is a line of the file
    (``time.time()``, tab, Message-ID). ``up`` / ``down`` as ``SmtpPeer``."""

    def __init__(self, folder: Any) -> None:
        self.port = free_port()
        self.file = folder / f"smtp-{self.port}.tsv"
        self.file.touch()
        self.proc: Any = None

    def up(self) -> SmtpProcess:
        import subprocess
        import sys

        if self.proc is None:
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.api.peers",
                                          str(self.port), str(self.file)])
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return self
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError("the SMTP process did not start")
        return self

    def down(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def received(self) -> list[Mail]:
        out = []
        for line in self.file.read_text().splitlines():
            at, _, mid = line.partition("\t")
            out.append(Mail([], mid, "", "", float(at)))
        return out


def _serve(port: int, path: str) -> None:
    import asyncio
    import signal

    class Writer:
        def __init__(self) -> None:
            self.fh = open(path, "a", buffering=1)  # noqa: SIM115 (open while serving)

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            at = time.time()
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.fh.write(f"{at}\t{msg['Message-ID']}\n")
            return "250 OK"

    ctl = Controller(Writer(), hostname="127.0.0.1", port=port)
    ctl.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    ctl.stop()
    del asyncio


if __name__ == "__main__":
    import sys

    _serve(int(sys.argv[1]), sys.argv[2])
