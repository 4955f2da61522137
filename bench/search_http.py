"""Serving an already loaded benchmark database over HTTP (a real ``dmp-gateway serve``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.server import free_port

Fetch = Callable[[str, str], bytes]


@contextmanager
def serving(env: dict[str, str], *, workers: int = 1) -> Iterator[Fetch]:
    """Start the gateway on the given settings; yield a ``fetch(path, query)``."""
    port = free_port()
    exe = Path(sys.executable).with_name("dmp-gateway")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"gateway did not start: {err[-2000:]}")
            time.sleep(0.2)
        with httpx.Client(base_url=url + "/fhir", timeout=60) as client:

            def fetch(path: str, query: str = "") -> bytes:
                r = client.get(f"/{path}?{query}" if query else f"/{path}")
                if r.status_code != 200:
                    raise SystemExit(f"{path}?{query}: {r.status_code} {r.text[:300]}")
                return r.content

            yield fetch
    finally:
        proc.terminate()
        proc.wait(timeout=30)
