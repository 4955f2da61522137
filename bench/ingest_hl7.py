"""HL7 v2 over MLLP benchmark: messages/second and latency to ACK, against a real listener.

    .venv/bin/python -m bench.ingest_hl7 [--backend sqlite|postgresql] [--messages 1000]
                                         [--connections 4] [--obx 4]

Starts a fresh data dir, registers the demo clients and loads the demo record
(``dmp-gateway demo``), then runs ``dmp-gateway mllp`` as the demo vendor client writing
as the demo physician (a care-team member of the demo patient Alice), with profile
validation on (strict) and the DMP access rules. Each message is an ORU^R01 about Alice
with ``--obx`` vital signs at a time of its own (so every message stores new
Observations, a DiagnosticReport and a Provenance; nothing is deduplicated away) and a
unique MSH-10. ``--connections`` senders each keep one message in flight (HL7 original
mode: send, wait for the ACK, send the next). Prints messages/second, resources/second,
p50/p95/p99 latency from send to ACK, the listener's CPU time per message (steadier than
wall-clock figures on a shared machine) and the ACK codes seen. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from bench.server import free_port, fresh_postgres, rss_mib, tree_cpu_seconds
from gateway.mllp import MllpClient

VITALS = [
    ("FC^Pouls^L", "NM", "{v}", "bpm"),
    ("TEMP^Température^L", "NM", "37,{d}", "°C"),
    ("SPO2^Saturation^L", "NM", "9{d}", "%"),
    ("TA^Tension artérielle^L", "ST", "13/{d}", ""),
    ("POIDS^Poids^L", "NM", "6{d}", "kg"),
    ("EVA^EVA douleur^L", "NM", "{d}", ""),
]


def message(n: int, obx: int) -> bytes:
    """ORU^R01 n about Alice, observed at a minute of its own (unique natural keys)."""
    at = (datetime(2024, 1, 1, 8, 0) + timedelta(minutes=n)).strftime("%Y%m%d%H%M%S")
    segments = [
        f"MSH|^~\\&|BENCH|CH DEMO|DMP-GATEWAY|DMP|{at}||ORU^R01^ORU_R01|B-{n:09d}|P|2.5"
        "|||||FRA|UNICODE UTF-8",
        "PID|1||285037512345688^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS~H-7001^^^CHDEMO"
        "^PI||DUPONT^Alice^Alice^^^^L||19850312|F||||||||||||||||||||||||VALI",
        f"OBR|1|||CONST^Constantes^L|||{at}",
    ]
    for i in range(obx):
        code, kind, value, unit = VITALS[i % len(VITALS)]
        v = value.format(v=60 + n % 40, d=n % 9 + 1)
        observer = "|10000000017^MARTIN^Claire^^^^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^RPPS"
        segments.append(f"OBX|{i + 1}|{kind}|{code}||{v}|{unit}|||||F|||{at}{observer}")
    return "\r".join(segments).encode("utf-8")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def listening(port: int) -> int:
    """How many sockets listen on ``port`` (IPv4): one per listener process."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    # local address is IP:PORT in hex; state 0A is LISTEN
    return sum(1 for r in rows if r.split()[1].endswith(f":{port:04X}") and r.split()[3] == "0A")


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, processes: int = 1) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-2000:])
        if listening(port) >= processes:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
        time.sleep(0.2)
    raise RuntimeError("the listener did not start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--obx", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--processes", type=int, default=1, help="listener processes")
    args = parser.parse_args()

    exe = Path(sys.executable).with_name("dmp-gateway")
    with tempfile.TemporaryDirectory(prefix="dmpgw-mllp-") as data_dir:
        env = {**os.environ, "GATEWAY_ENV": "dev", "GATEWAY_DATA_DIR": data_dir}
        env.pop("GATEWAY_DATABASE_URL", None)
        env.pop("GATEWAY_AUTH", None)
        if args.backend == "postgresql":
            env["GATEWAY_DATABASE_URL"] = fresh_postgres(
                "postgresql://postgres@127.0.0.1:5432/postgres", "dmpgw_bench_mllp"
            )
        subprocess.run([str(exe), "demo"], env=env, check=True, capture_output=True)
        port = free_port()
        log = Path(data_dir) / "mllp.log"
        err = log.open("wb")
        proc = subprocess.Popen(
            [
                str(exe),
                "mllp",
                "--port",
                str(port),
                "--client",
                "demo-vendor",
                "--professional",
                "810000000017",
                "--profession",
                "10",
                "--structure",
                "1750000010",
                "--workers",
                str(args.workers),
                "--processes",
                str(args.processes),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            # A file, not a pipe: nobody reads a pipe while the benchmark runs, and once
            # its buffer is full of the listener's log lines (one per message) it blocks.
            stderr=err,
        )
        err.close()  # the listener has its own copy of the descriptor
        try:
            wait_port(port, proc, log, args.processes)
            with MllpClient("127.0.0.1", port) as warm:
                for n in range(args.warmup):
                    warm.exchange(message(n, args.obx))
            latencies: list[float] = []
            codes: Counter[str] = Counter()
            lock = threading.Lock()
            base = args.warmup

            def sender(k: int) -> None:
                mine = range(base + k, base + args.messages, args.connections)
                with MllpClient("127.0.0.1", port) as client:
                    for n in mine:
                        t0 = time.perf_counter()
                        ack = client.exchange(message(n, args.obx))
                        dt = time.perf_counter() - t0
                        code = ack.split(b"MSA|", 1)[1][:2].decode()
                        with lock:
                            latencies.append(dt)
                            codes[code] += 1

            threads = [threading.Thread(target=sender, args=(k,)) for k in range(args.connections)]
            start, cpu_start = time.perf_counter(), tree_cpu_seconds(proc.pid)
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - start
            cpu = tree_cpu_seconds(proc.pid) - cpu_start
            rss = rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=60)

    per_message = args.obx + 2  # Observations, DiagnosticReport, Provenance
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    print(
        f"back-end: {args.backend}; {args.connections} connections; {args.obx} OBX/message; "
        f"{args.processes} listener process(es)"
    )
    print(
        f"messages: {len(latencies)} in {elapsed:.1f} s -> {len(latencies) / elapsed:.1f} msg/s "
        f"({len(latencies) * per_message / elapsed:.0f} resources/s)"
    )
    print(
        f"latency to ACK: p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
    )
    print(
        f"listener CPU: {cpu / len(latencies) * 1000:.1f} ms/message "
        f"(at most {len(latencies) / cpu:.0f} msg/s on one free core)"
    )
    print(f"ACK codes: {dict(codes)}; listener RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
