"""Shared by the Python client tests: the package on sys.path, the fixtures, the worker under
test (AST_BASE_URL, AST_API_KEY: a running ai-spend-tracker and a project key), and a stub
HTTP server that fails requests on purpose before passing them on to the worker."""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

PYTHON_CLIENT = Path(__file__).resolve().parents[1]
FIXTURES = PYTHON_CLIENT.parent / "fixtures"
if str(PYTHON_CLIENT) not in sys.path:
    sys.path.insert(0, str(PYTHON_CLIENT))


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def as_object(value: Any) -> Any:
    """A dict turned into attribute objects, the way the SDKs' pydantic models read."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: as_object(v) for k, v in value.items()})
    if isinstance(value, list):
        return [as_object(v) for v in value]
    return value


def server() -> Dict[str, str]:
    """The worker under test; fails loudly (never skips) when it is not configured."""
    base_url = os.environ.get("AST_BASE_URL")
    api_key = os.environ.get("AST_API_KEY")
    if not base_url or not api_key:
        raise RuntimeError(
            "set AST_BASE_URL (e.g. http://127.0.0.1:8787) and AST_API_KEY (a project key) "
            "to run the Python client tests against a worker; tests/clients.test.mjs does this"
        )
    return {"base_url": base_url.rstrip("/"), "api_key": api_key}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def stored_events(**query: str) -> List[Dict[str, Any]]:
    """GET /api/usage?limit=1000&... with the project key, every page."""
    s = server()
    events: List[Dict[str, Any]] = []
    cursor: Optional[str] = None
    while True:
        params = {"limit": "1000", **query}
        if cursor:
            params["cursor"] = cursor
        qs = urllib.parse.urlencode(params)
        request = urllib.request.Request(f"{s['base_url']}/api/usage?{qs}", headers={"authorization": f"Bearer {s['api_key']}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            page = json.loads(response.read())
        events.extend(page["events"])
        cursor = page.get("next_cursor")
        if not cursor:
            return events


class FlakyProxy:
    """A local HTTP server in front of the worker. Each POST takes the next step of ``plan``:

    - ``"503"``: answer 503 retryable (as the worker does when D1 fails), send nothing on;
    - ``"429"``: answer 429 with ``retry-after: 0``;
    - ``"drop"``: pass the request on, then close the connection without answering (the worker
      stored the events, the client never hears so);
    - ``"pass"`` (and every request after the plan): pass on and relay the answer.

    ``bodies`` keeps every request body received, parsed.
    """

    def __init__(self, target: str, plan: List[str]):
        self.target = target.rstrip("/")
        self.plan = list(plan)
        self.bodies: List[Dict[str, Any]] = []
        self.answers: List[int] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with proxy.lock:
                    proxy.bodies.append(json.loads(body))
                    step = proxy.plan.pop(0) if proxy.plan else "pass"
                if step in ("503", "429"):
                    status = int(step)
                    payload = json.dumps(
                        {"error": {"code": "storage_unavailable" if status == 503 else "rate_limited", "message": "try again", "details": [], "retryable": True}}
                    ).encode()
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("retry-after", "0" if status == 429 else "1")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    with proxy.lock:
                        proxy.answers.append(status)
                    return
                status, headers, text = proxy.forward(self.path, dict(self.headers.items()), body)
                if step == "drop":
                    with proxy.lock:
                        proxy.answers.append(0)
                    self.close_connection = True
                    return
                payload = text.encode()
                self.send_response(status)
                for key in ("content-type", "retry-after"):
                    if key in headers:
                        self.send_header(key, headers[key])
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                with proxy.lock:
                    proxy.answers.append(status)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def forward(self, path: str, headers: Dict[str, str], body: bytes):
        keep = {k: v for k, v in headers.items() if k.lower() in ("authorization", "content-type")}
        request = urllib.request.Request(self.target + path, data=body, headers=keep, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()

    def __enter__(self) -> "FlakyProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

