"""Start a throw-away gateway server for a benchmark (a real ``dmp-gateway serve`` process)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], *, seconds: float, log: Path | None = None
) -> None:
    """Until ``url``/readyz answers 200; RuntimeError with the server's stderr (its pipe,
    or the ``log`` file it writes to) if it dies or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            if log is not None:
                err = log.read_text()
            else:
                err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"gateway did not start: {err[-2000:]}")
        time.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far: unlike wall-clock figures,
    it barely moves when other jobs share the cores."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """:func:`cpu_seconds` of a process and its running children (``--processes``)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = task / "children"
        if children.exists():
            for child in children.read_text().split():
                with contextlib.suppress(FileNotFoundError):  # it has just ended
                    total += cpu_seconds(int(child))
    return total


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), in MiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def fresh_postgres(admin_url: str, name: str) -> str:
    """(Re)create database ``name`` for this checkout and return its URL: the name gets
    a suffix of the checkout's path, so that benchmarks run from two checkouts on one
    server never drop each other's database (the drop is forced)."""
    checkout = hashlib.sha256(str(Path(__file__).resolve().parent).encode()).hexdigest()[:6]
    name = f"{name}_{checkout}"
    engine = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def gateway_server(
    backend: str,
    *,
    workers: int = 1,
    pg_admin: str = "postgresql://postgres@127.0.0.1:5432/postgres",
    extra_env: dict[str, str] | None = None,
    data_dir: Path | None = None,
) -> Iterator[tuple[str, int]]:
    """Yield (base URL, server pid) of a fresh gateway on ``backend``.

    With ``data_dir`` (SQLite), serve the database already there instead of a new one.
    """
    port = free_port()
    with (
        nullcontext(str(data_dir))
        if data_dir is not None
        else tempfile.TemporaryDirectory(prefix="dmpgw-bench-")
    ) as directory:
        env = {
            **os.environ,
            "GATEWAY_ENV": "dev",
            "GATEWAY_AUTH": "disabled",
            "GATEWAY_DATA_DIR": directory,
            **(extra_env or {}),
        }
        env.pop("GATEWAY_DATABASE_URL", None)
        if backend == "postgresql":
            env["GATEWAY_DATABASE_URL"] = fresh_postgres(pg_admin, "dmpgw_bench")
        exe = Path(sys.executable).with_name("dmp-gateway")
        # A file, not a pipe: nobody reads the pipe while the benchmark runs, and once its
        # buffer is full of access-log lines the server blocks on its next log write.
        with tempfile.NamedTemporaryFile(prefix="dmpgw-bench-", suffix=".log") as log:
            proc = subprocess.Popen(
                [str(exe), "serve", "--port", str(port), "--workers", str(workers)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                wait_ready(url, proc, seconds=60, log=Path(log.name))
                yield url, proc.pid
            finally:
                proc.terminate()
                proc.wait(timeout=30)
