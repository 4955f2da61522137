"""``dmp-gateway mllp --processes N``: real processes sharing one port, supervised."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.cli.demo import ensure_demo_clients
from gateway.config import Settings
from gateway.mllp import MllpClient
from gateway.record.services import RecordServices

from .support import hl7

EXE = Path(sys.executable).with_name("dmp-gateway")


@pytest.fixture
def env(settings: Settings, feeding: RecordServices) -> dict[str, str]:
    """The listener's environment: the test's database with the demo record, dev."""
    ensure_demo_clients(settings)
    out = {
        **os.environ,
        "GATEWAY_ENV": "dev",
        "GATEWAY_DATA_DIR": str(settings.data_dir),
        "GATEWAY_SECRET_KEY": settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
    }
    out.pop("GATEWAY_DATABASE_URL", None)
    if settings.database_url:
        out["GATEWAY_DATABASE_URL"] = settings.database_url
    if settings.crypto.kek is not None:
        out["GATEWAY_CRYPTO__KEK"] = settings.crypto.kek.get_secret_value()
    return out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = task / "children"
        if children.exists():
            found += [int(p) for p in children.read_text().split()]
    return found


def _listeners(pid: int) -> list[int]:
    """The parent's listener processes (not multiprocessing's resource tracker)."""
    return [
        child
        for child in _children(pid)
        if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def _start(env: dict[str, str], port: int, processes: int, log: Path) -> subprocess.Popen[bytes]:
    args = ["mllp", "--port", str(port), "--client", "demo-ehpad", "--processes", str(processes)]
    with log.open("wb") as err:  # a file: a pipe nobody reads would fill and block
        proc = subprocess.Popen([str(EXE), *args], env=env, stderr=err)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        if len(_listeners(proc.pid)) == processes:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return proc
            except OSError:
                pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the listener did not start")


def _msa(ack: bytes) -> str:
    msa = next(s for s in ack.decode().split("\r") if s.startswith("MSA")).split("|")[1]
    return msa if msa == "AA" else ack.decode()


def test_processes_share_the_port_and_stop_gracefully_on_sigterm(
    env: dict[str, str], tmp_path: Path
) -> None:
    port = _free_port()
    proc = _start(env, port, 2, tmp_path / "mllp.log")
    listeners = _listeners(proc.pid)
    try:
        acks = []
        for _ in range(6):  # new connections, spread by the kernel among the processes
            with MllpClient("127.0.0.1", port) as client:
                acks.append(_msa(client.exchange(hl7("fr-adt-a01-admission-ins.hl7"))))
        assert acks == ["AA"] * 6, "the first stored, the others its duplicates"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in listeners)


def test_a_listener_process_that_dies_stops_the_others_and_fails(
    env: dict[str, str], tmp_path: Path
) -> None:
    port = _free_port()
    proc = _start(env, port, 2, tmp_path / "mllp.log")
    first, second = _listeners(proc.pid)
    os.kill(first, signal.SIGKILL)
    code = proc.wait(timeout=60)
    assert code != 0, "a supervisor must see that the listener is short of a process"
    assert not Path(f"/proc/{second}").exists()


def test_several_processes_need_a_fixed_port(env: dict[str, str]) -> None:
    args = ["mllp", "--port", "0", "--client", "demo-ehpad", "--processes", "2"]
    result = subprocess.run([str(EXE), *args], env=env, capture_output=True, timeout=60)
    assert result.returncode == 2
    assert b"--processes needs a fixed --port" in result.stderr
