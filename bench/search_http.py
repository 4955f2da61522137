"""Serving an already loaded benchmark database over HTTP (a real ``dmp-gateway serve``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.server import free_port, wait_ready

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
        wait_ready(url, proc, seconds=120)
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
