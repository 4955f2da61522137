"""Pure parse + normalise throughput of the ingestion parsers (no storage, no network).

Prints HL7 v2 messages/second over the fixture messages (the 139 real samples and the
French cases; mapped types only, and all of them including the AR ones), ACK building
cost, and CSV rows/second over generated EHPAD exports built from the fixtures.

    .venv/bin/python bench/ingest_hl7_parse.py [--seconds 3]

Targets for the whole pipeline are 500 HL7 messages/s and 5,000 CSV rows/s; the pure
part must leave most of that budget to storage and validation.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from gateway.ingest import build_ack, load_mappings, parse_csv, parse_hl7v2
from gateway.normalise import SourceConfig, Terminology

ROOT = Path(__file__).resolve().parents[1]
HL7 = ROOT / "fixtures" / "hl7v2"
SOURCE = SourceConfig("bench", "750712184", "EHPAD Les Tilleuls")


def rate(work: Callable[[], int], seconds: float) -> tuple[float, float]:
    """(best, mean) items per second over repeated calls of ``work`` for ``seconds``.

    The best call is the figure to compare across runs: on a shared machine the mean
    also counts the time other processes held the cores.
    """
    work()  # warm up
    durations: list[float] = []
    items = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        items = work()
        durations.append(time.perf_counter() - t0)
    return items / min(durations), items * len(durations) / sum(durations)


def hl7_bench(terminology: Terminology, seconds: float) -> None:
    payloads = [
        p.read_bytes() for p in sorted(HL7.glob("*.hl7")) + sorted((HL7 / "samples").glob("*.hl7"))
    ]
    mapped = [p for p in payloads if parse_hl7v2(p, SOURCE, terminology).ack_code != "AR"]
    size = sum(map(len, mapped)) / len(mapped)
    now = datetime.now(UTC)

    def parse_mapped() -> int:
        for payload in mapped:
            parse_hl7v2(payload, SOURCE, terminology)
        return len(mapped)

    def parse_all() -> int:
        for payload in payloads:
            parse_hl7v2(payload, SOURCE, terminology)
        return len(payloads)

    def parse_and_ack() -> int:
        for payload in mapped:
            result = parse_hl7v2(payload, SOURCE, terminology)
            build_ack(result.header, result.ack_code, result.issues, control_id="B", timestamp=now)
        return len(mapped)

    for label, work in (
        (f"HL7 mapped types ({len(mapped)} msgs, {size / 1024:.1f} kB avg)", parse_mapped),
        (f"HL7 all fixtures ({len(payloads)} msgs, AR included)", parse_all),
        ("HL7 mapped types + ACK", parse_and_ack),
    ):
        best, mean = rate(work, seconds)
        print(
            f"{label:<52} {best:>8,.0f} msg/s best ({1000 / best:.2f} ms/msg), "
            f"{mean:,.0f} msg/s mean"
        )


VITALS_HEADER = "N° résident;Date;Heure;Paramètre;Valeur;Unité;Soignant;RPPS"
MEASURES = [
    ("TA", "13/8", ""),
    ("Pouls", "72", "bpm"),
    ("Température", "37,8", "°C"),
    ("Poids", "154", "lb"),
    ("SpO2", "96", "%"),
    ("Glycémie", "1,05", "g/L"),
]
WIDE_HEADER = "N° dossier;Date;Heure;TA;Pouls;Temp (°C);Poids (kg);SpO2 (%);Glycémie (g/L);EVA"
ADMIN_HEADER = (
    "Date;Heure;N° résident;Code médicament;Type de code;Médicament;Dose;Unité;Voie;Statut;"
    "RPPS infirmier"
)
NURSE = "Camille LEROY;10019876548"


def _when(n: int, month: int | None = None) -> str:
    return f"{1 + n % 28:02d}/{month or 1 + n % 9:02d}/2024;{n % 24:02d}:{n % 60:02d}"


def _vitals_long(rows: int) -> bytes:
    lines = [VITALS_HEADER]
    for n in range(rows):
        name, value, unit = MEASURES[n % len(MEASURES)]
        lines.append(f"R{n % 500:04d};{_when(n)};{name};{value};{unit};{NURSE}")
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def _vitals_wide(rows: int) -> bytes:
    lines = [WIDE_HEADER]
    for n in range(rows):
        lines.append(f"R{n % 500:04d};{_when(n, 1)};13/8;72;37,8;69,8;96;1,05;3")
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def _administrations(rows: int) -> bytes:
    lines = [ADMIN_HEADER]
    product = "3400891996128;UCD;DOLIPRANE 500MG GELU;1;gélule;Per os;Administré"
    for n in range(rows):
        lines.append(f"{_when(n, 7)};R{n % 500:04d};{product};10019876548")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def csv_bench(terminology: Terminology, seconds: float, rows: int) -> None:
    mappings = load_mappings()
    for label, kind, data, observations in (
        ("CSV vitals, long layout", "vitals", _vitals_long(rows), 1),
        ("CSV vitals, wide layout (7 measures/row)", "vitals", _vitals_wide(rows), 7),
        ("CSV administrations", "administrations", _administrations(rows), 1),
    ):
        result = parse_csv(data, mappings[kind], SOURCE, terminology)
        assert len(result.accepted) == rows, (kind, result.rejected[:1])

        def work(data: bytes = data, kind: str = kind) -> int:
            parse_csv(data, mappings[kind], SOURCE, terminology)
            return rows

        best, mean = rate(work, seconds)
        extra = f" ({best * observations:,.0f} Observations/s)" if observations > 1 else ""
        print(
            f"{label + f' ({rows} rows)':<52} {best:>8,.0f} rows/s best{extra}, "
            f"{mean:,.0f} rows/s mean"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--rows", type=int, default=1000, help="rows per generated CSV")
    args = parser.parse_args()
    terminology = Terminology.load()
    hl7_bench(terminology, args.seconds)
    csv_bench(terminology, args.seconds, args.rows)


if __name__ == "__main__":
    main()
