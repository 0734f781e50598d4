"""One way to run a provider's HTTP peer on loopback for a test, shared by the connector peers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"


@contextmanager
def serve_loopback(handler: type[BaseHTTPRequestHandler], peer: object) -> Iterator[str]:
    """Serve ``handler`` (which finds ``peer`` as ``self.server.peer``) on an ephemeral loopback port.

    Yields the base URL. On exit the server stops and every thread it started has ended.
    """
    server = ThreadingHTTPServer((HOST, 0), handler)
    # Non-daemon handler threads are joined by server_close(): none outlives the test (intake
    # declines to fork while other threads run, so a leaked one changes later tests' behaviour).
    server.daemon_threads = False
    server.peer = peer  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
