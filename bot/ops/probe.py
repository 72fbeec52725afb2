"""``python -m bot healthcheck``: ask a running bot's ``/healthz`` (the Docker HEALTHCHECK).

It reads only ``METRICS_PORT`` and ``METRICS_HOST`` (environment, then ``.env``), never the
secrets, and exits 0 when the bot answers 200, 1 otherwise. Without ``METRICS_PORT`` there is
no endpoint to ask: it says so and exits 0, so an image run without the endpoint is not
reported unhealthy (set ``METRICS_PORT`` to have the health check mean something).
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["probe_health"]

# Addresses that mean "every interface": the check itself connects over loopback.
_ANY = {"", "0.0.0.0", "::", "[::]"}


def _setting(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if value:
        return value
    env_file = Path(".env")
    if env_file.is_file():
        for line in env_file.read_text(encoding="utf-8").splitlines():
            key, sep, rest = line.partition("=")
            if sep and key.strip() == name:
                return rest.strip().strip("'\"")
    return ""


def probe_health(timeout: float = 5.0) -> int:
    """Return 0 if ``/healthz`` answers 200 (or no endpoint is configured), else 1."""
    port = _setting("METRICS_PORT")
    if not port:
        print("METRICS_PORT is not set: no health endpoint to check")
        return 0
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        print(f"METRICS_PORT={port!r} is not a port from 1 to 65535", file=sys.stderr)
        return 1
    host = _setting("METRICS_HOST")
    host = "127.0.0.1" if host in _ANY else host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    url = f"http://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (OSError, ValueError, http.client.HTTPException) as exc:
        print(f"{url}: no answer ({type(exc).__name__})", file=sys.stderr)
        return 1
    try:
        failed = json.loads(body).get("failed") or []
    except (ValueError, AttributeError):
        failed = []
    if status == 200:
        print(f"{url}: healthy")
        return 0
    print(f"{url}: HTTP {status}, failed: {', '.join(failed) or 'unknown'}", file=sys.stderr)
    return 1
