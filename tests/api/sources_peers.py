"""Local peers for the source tests: a stand-in for Meta's Graph API (a real HTTP server on
127.0.0.1) and a client fixture with every source configured."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCESS_TOKEN = "EAAG-page-token-0123456789"
APP_SECRET = "meta-app-secret"
VERIFY_TOKEN = "verify-me"
GOOGLE_KEY = "GOOGLE-SHARED-KEY"
GRAPH_VERSION = "v21.0"


@dataclass
class GraphStandIn:
    """Serves ``GET /<version>/<leadgen_id>?access_token=`` from ``leads``; ``fail_next``
    answers that many requests with a 500 first; a wrong token gets Graph's 400."""

    leads: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: int = 0
    requests: list[str] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> GraphStandIn:
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                graph.requests.append(parts.path)
                token = parse_qs(parts.query).get("access_token", [""])[0]
                version, _, leadgen_id = parts.path.strip("/").partition("/")
                if graph.fail_next > 0:
                    graph.fail_next -= 1
                    return self._answer(500, {"error": {"message": "An unknown error "
                                                        "occurred", "code": 1}})
                if token != ACCESS_TOKEN:
                    return self._answer(400, {"error": {"message": "Invalid OAuth access "
                                                        "token.", "code": 190}})
                lead = graph.leads.get(leadgen_id)
                if version != GRAPH_VERSION or lead is None:
                    return self._answer(404, {"error": {"message": "Unsupported get "
                                                        "request.", "code": 100}})
                return self._answer(200, lead)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def source_settings(graph_url: str) -> dict[str, Any]:
    return {"meta_verify_token": VERIFY_TOKEN, "meta_app_secret": APP_SECRET,
            "meta_access_token": ACCESS_TOKEN, "meta_graph_url": graph_url,
            "meta_graph_version": GRAPH_VERSION, "google_ads_key": GOOGLE_KEY,
            "fetch_backoff_s": 2.0, "fetch_max_attempts": 4, "fetch_timeout_s": 5.0}
