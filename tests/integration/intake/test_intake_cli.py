"""``dmp-gateway ingest`` and ``dmp-gateway mllp`` start-up checks, on both back-ends."""

from __future__ import annotations

import gc
import ipaddress
import re
import socket
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.access.context import AccessContext
from gateway.cli import app
from gateway.cli.demo import ensure_demo_clients
from gateway.cli.mllp import metrics_observer, reach_warning
from gateway.config import Settings
from gateway.mllp.server import LOOPBACK
from gateway.record.reader import RecordReader
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.storage import schema as s

from .support import CSV, HL7, INTAKE

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, services: RecordServices, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI's environment: the test's database (emptied by ``services``), dev."""
    monkeypatch.setenv("GATEWAY_ENV", "dev")
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("GATEWAY_SECRET_KEY", settings.secret_key.get_secret_value())  # type: ignore[union-attr]
    if settings.database_url:
        monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    if settings.crypto.kek is not None:  # the same KEK as the test's services
        monkeypatch.setenv("GATEWAY_CRYPTO__KEK", settings.crypto.kek.get_secret_value())
    return settings


def _row(output: str, kind: str) -> list[int]:
    line = next(x for x in output.splitlines() if re.search(rf"\b{re.escape(kind)}\b", x))
    return [int(n) for n in re.findall(r"\b\d+\b", line)]


def test_a_folder_and_files_give_a_summary_and_exit_1_when_quarantined(env: Settings) -> None:
    result = runner.invoke(
        app,
        [
            "ingest",
            str(CSV / "residents.csv"),
            str(CSV / "vitals-mixed.csv"),
            str(HL7 / "fr-oru-r01-constantes-ehpad.hl7"),
            str(INTAKE),
            "--finess",
            "750712184",
        ],
    )
    assert result.exit_code == 1, result.output
    assert _row(result.output, "csv:residents") == [6, 0, 0]
    assert _row(result.output, "csv:vitals") == [5, 0, 8]
    assert _row(result.output, "ORU^R01") == [1, 0, 0]
    total = _row(result.output, "total")
    assert sum(total) == 6 + 13 + 1 + len(list(INTAKE.glob("*.hl7")))


def test_a_clean_run_exits_0_and_a_rerun_counts_duplicates(env: Settings) -> None:
    args = ["ingest", str(CSV / "residents.csv"), "--finess", "750712184"]
    first = runner.invoke(app, args)
    again = runner.invoke(app, args)
    assert (first.exit_code, again.exit_code) == (0, 0), first.output + again.output
    assert _row(again.output, "csv:residents") == [0, 6, 0]
    # The run freezes the heap as the server does, and gives it back when it ends
    # (the command may run inside a longer-lived process, such as this one).
    assert gc.get_freeze_count() == 0


def test_a_registered_ehpad_client_sends_as_its_system(env: Settings, tmp_path: Path) -> None:
    ensure_demo_clients(env)
    result = runner.invoke(
        app, ["ingest", str(CSV / "residents-cp1252.csv"), "--source", "demo-ehpad"]
    )
    assert result.exit_code == 0, result.output
    assert _row(result.output, "csv:residents") == [3, 0, 0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "nobody"], "not in the registry"),
        (["--source", "demo-vendor"], "configure the professional"),
        (["--source", "demo-auditor"], "cannot send"),
        (
            ["--source", "demo-vendor", "--professional", "810000000025", "--profession", "21"],
            "name one",
        ),
    ],
)
def test_misconfigured_senders_are_refused(env: Settings, args: list[str], message: str) -> None:
    ensure_demo_clients(env)
    result = runner.invoke(app, ["ingest", str(CSV / "residents.csv"), *args])
    assert result.exit_code == 2
    assert message in result.output
    listener = runner.invoke(app, ["mllp", "--port", "0", "--client", *args[1:]])
    assert listener.exit_code == 2 and message in listener.output


def test_the_format_can_be_forced(env: Settings, tmp_path: Path) -> None:
    export = tmp_path / "export.txt"
    export.write_bytes((CSV / "residents.csv").read_bytes())
    unknown = runner.invoke(app, ["ingest", str(export), "--finess", "750712184"])
    assert unknown.exit_code == 1 and "cannot tell the CSV kind" in unknown.output
    forced = runner.invoke(
        app, ["ingest", str(export), "--format", "csv:residents", "--finess", "750712184"]
    )
    assert forced.exit_code == 0, forced.output


def test_the_listener_refuses_to_start_on_a_network_it_cannot_read(env: Settings) -> None:
    ensure_demo_clients(env)
    result = runner.invoke(
        app, ["mllp", "--port", "0", "--client", "demo-ehpad", "--allow", "10.0.0.0/33"]
    )
    assert result.exit_code == 2
    assert "--allow" in result.output and "10.0.0.0/33" in result.output


def test_the_listener_says_so_when_its_port_is_taken(env: Settings) -> None:
    ensure_demo_clients(env)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["mllp", "--port", str(port), "--client", "demo-ehpad"])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("host", "allow", "warned"),
    [
        ("127.0.0.1", [], None),
        ("127.0.0.1", ["10.1.2.0/24"], "admits none"),
        ("127.0.0.1", ["10.1.2.0/24", "127.0.0.1/32"], None),
        ("0.0.0.0", [], "local peers only"),  # noqa: S104 - a bind address, as text
        ("0.0.0.0", ["10.1.2.0/24"], None),  # noqa: S104
        ("::", ["::1/128"], "local peers only"),
    ],
)
def test_a_bind_address_and_allowed_networks_that_disagree_are_pointed_out(
    host: str, allow: list[str], warned: str | None
) -> None:
    networks = tuple(ipaddress.ip_network(a) for a in allow) or LOOPBACK
    warning = reach_warning(host, networks)
    assert (warning is None) if warned is None else (warning is not None and warned in warning)


def test_the_listener_counts_messages_on_its_metrics_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    observe = metrics_observer(port)
    assert observe is not None
    observe("accepted", 0.01)
    observe("accepted", 0.02)
    observe("failed", 0.5)
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'gateway_ingest_messages_total{channel="mllp",outcome="accepted"} 2.0' in text
    assert 'gateway_ingest_messages_total{channel="mllp",outcome="failed"} 1.0' in text
    assert metrics_observer(None) is None, "no port, no metrics server"


def test_the_listener_refuses_a_metrics_port_in_use(env: Settings) -> None:
    ensure_demo_clients(env)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(
            app, ["mllp", "--port", "0", "--client", "demo-ehpad", "--metrics-port", str(port)]
        )
    assert result.exit_code == 2
    assert f"--metrics-port {port}" in result.output


def test_a_missing_path_or_an_empty_folder_is_a_usage_error(env: Settings, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--finess", "750712184"])
    assert missing.exit_code == 2
    assert "no such file or folder" in missing.stderr and "Traceback" not in missing.output
    assert "total" not in missing.stdout  # no summary of a run that did not happen
    (tmp_path / "notes.md").write_text("nothing to ingest")
    empty = runner.invoke(app, ["ingest", str(tmp_path), "--finess", "750712184"])
    assert empty.exit_code == 2 and "no file to ingest" in empty.stderr


def test_without_a_sender_the_cli_options_are_named(env: Settings) -> None:
    result = runner.invoke(app, ["ingest", str(CSV / "residents.csv")])
    assert result.exit_code == 2
    assert "--source" in result.stderr and "--finess" in result.stderr
    assert "?finess=" not in result.output


@pytest.mark.parametrize("fmt", ["xml", "csv:foo", "csv:"])
def test_an_unknown_format_is_refused_before_any_file_is_read(
    env: Settings, tmp_path: Path, fmt: str
) -> None:
    result = runner.invoke(
        app, ["ingest", str(tmp_path / "not-read.csv"), "--format", fmt, "--finess", "750712184"]
    )
    assert result.exit_code == 2, result.output
    assert f"--format {fmt!r}" in result.stderr
    assert "csv:residents" in result.stderr and "hl7v2" in result.stderr
    assert "quarantined" not in result.output


def test_an_unreadable_file_is_not_counted_as_quarantined(env: Settings, tmp_path: Path) -> None:
    export = tmp_path / "export.txt"
    export.write_bytes((CSV / "residents.csv").read_bytes())
    result = runner.invoke(app, ["ingest", str(export), "--finess", "750712184"])
    assert result.exit_code == 1
    assert _row(result.output, "total") == [0, 0, 0]
    assert "skipped: 1 file" in result.output


def test_quarantines_are_listed_and_a_resend_of_one_is_not_a_success(
    env: Settings, tmp_path: Path
) -> None:
    message = (HL7 / "fr-oru-r01-constantes-ehpad.hl7").read_bytes()
    bad = tmp_path / "bad-ins.hl7"  # an INS whose key does not match
    bad.write_bytes(message.replace(b"240037505612377", b"240037505612399"))
    args = ["ingest", str(bad), "--finess", "750712184"]
    first = runner.invoke(app, args)
    assert first.exit_code == 1, first.output
    found = re.search(
        r"bad-ins\.hl7 message 1: quarantined \(quarantine ([0-9a-f-]{36})\)", first.stdout
    )
    assert found and "GW-4106" in first.stdout, first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 1, again.output
    assert _row(again.output, "ORU^R01") == [0, 1, 0]
    assert (
        f"bad-ins.hl7 message 1: duplicate, first outcome quarantined (quarantine {found[1]})"
        in again.stdout
    )
    # CSV records too: each quarantined line with its id and reason, and again on a resend.
    csv_args = ["ingest", str(CSV / "vitals-mixed.csv"), "--finess", "750712184"]
    rows = runner.invoke(app, csv_args)
    assert rows.exit_code == 1
    assert re.search(
        r"vitals-mixed\.csv line 11: quarantined \(quarantine [0-9a-f-]{36}\): GW-4107", rows.stdout
    )
    resent = runner.invoke(app, csv_args)
    assert resent.exit_code == 1 and _row(resent.output, "csv:vitals") == [0, 13, 0]
    assert "vitals-mixed.csv line 11: duplicate, first outcome quarantined" in resent.stdout


def _shred_audits(services: RecordServices) -> int:
    from gateway.storage.audit_reads import stored_entries

    with services.store.engine.connect() as conn:
        return sum(b"crypto-shred" in content for _, content, _ in stored_entries(conn))


def test_shredding_a_patient_without_a_data_key_destroys_nothing_and_says_so(
    env: Settings, services: RecordServices, repo: Repository
) -> None:
    nothing = runner.invoke(app, ["keys", "shred", "--patient", "nosuch", "--yes"])
    assert nothing.exit_code == 1, nothing.output
    assert "no such patient and no data key; nothing destroyed" in nothing.stderr
    assert "destroyed;" not in nothing.output
    with services.store.reader() as tx:
        tombstone = tx.conn.execute(
            select(s.data_key).where(s.data_key.c.owner == "nosuch")
        ).first()
    assert tombstone is None and _shred_audits(services) == 0
    # A real patient is shredded once; a second attempt says it was done already.
    with repo.writing() as w:
        pid = w.create({"resourceType": "Patient", "name": [{"family": "Shredme"}]}).version.id
    done = runner.invoke(app, ["keys", "shred", "--patient", pid, "--yes"])
    assert done.exit_code == 0 and "data key destroyed; 1 resources unindexed" in done.stdout
    again = runner.invoke(app, ["keys", "shred", "--patient", pid, "--yes"])
    assert again.exit_code == 1 and "already destroyed" in again.stderr
    assert _shred_audits(services) == 1


def _body(r: RecordReader, rtype: str, rid: str) -> Any:
    current = r.tx.current(rtype, rid)
    assert current is not None and current.content is not None
    return orjson.loads(current.content)


def _members(services: RecordServices) -> list[str]:
    with Repository(AccessContext.dev_open(), services).reading() as r:
        group = r.tx.current("Group", "ehpad-residents")
    assert group is not None and group.content is not None
    return [m["entity"]["reference"] for m in orjson.loads(group.content).get("member", [])]


def test_demo_again_keeps_what_was_written_since(
    env: Settings, services: RecordServices, repo: Repository
) -> None:
    first = runner.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    assert "0 kept" in first.stdout and _members(services) == ["Patient/gaston"]
    # The EHPAD enrols its residents (the Group grows), someone edits a demo Patient.
    ingested = runner.invoke(app, ["ingest", str(CSV / "residents.csv"), "--source", "demo-ehpad"])
    assert ingested.exit_code == 0, ingested.output
    enrolled = _members(services)
    assert len(enrolled) == 7, enrolled
    with repo.writing() as w:
        alice = _body(w, "Patient", "alice")
        alice["name"][0]["family"] = "Renamed"
        w.update("Patient", "alice", alice)
    again = runner.invoke(app, ["demo"])
    assert again.exit_code == 0, again.output
    assert "0 resources created" in again.stdout and "kept as they were" in again.stdout
    assert _members(services) == enrolled
    with repo.reading() as r:
        kept = _body(r, "Patient", "alice")
    assert kept["name"][0]["family"] == "Renamed"
    # A demo member removed since is put back; the others stay.
    with repo.writing() as w:
        group = _body(w, "Group", "ehpad-residents")
        group["member"] = group["member"][1:]
        w.update("Group", "ehpad-residents", group)
    third = runner.invoke(app, ["demo"])
    assert "Group/ehpad-residents: added demo members Patient/gaston" in third.stdout
    assert sorted(_members(services)) == sorted(enrolled)
