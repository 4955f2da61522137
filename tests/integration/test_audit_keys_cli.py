"""The audit signing key (generated in dev, required in prod, rotated), the key and
checkpoint commands, and the shutdown checkpoint of a live server."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.audit.checkpoint import Signer, VerifierKey, parse_checkpoint
from gateway.config import AuditSettings, Settings
from gateway.keyfile import ConfigurationError
from gateway.record.services import RecordServices
from gateway.storage import audit_checkpoints
from gateway.storage.audit_keys import key_path, load_signer
from gateway.storage.audit_log import AuditLog
from tests.audit_support import entries, run_cli
from tests.support import live_server


def test_dev_generates_a_private_key_once(tmp_path: Path) -> None:
    settings = Settings(env="dev", data_dir=tmp_path)
    first = load_signer(settings)
    path = key_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signer(settings).verifier_key == first.verifier_key
    assert first.name == settings.audit.origin


def test_production_needs_a_key_file_named_after_the_origin(tmp_path: Path) -> None:
    prod = Settings(env="prod", data_dir=tmp_path, secret_key="x" * 64)
    with pytest.raises(ConfigurationError, match="GATEWAY_AUDIT__KEY_FILE"):
        key_path(prod)  # create_app calls it (and refuses prod for now anyway: no tokens)
    wrong = tmp_path / "wrong.key"
    wrong.write_text(Signer.generate("another.example/log").to_text())
    configured = prod.model_copy(update={"audit": AuditSettings(key_file=wrong)})
    with pytest.raises(ConfigurationError, match="named after the log origin"):
        load_signer(configured)
    right = tmp_path / "right.key"
    right.write_text(Signer.generate(prod.audit.origin).to_text())
    configured = prod.model_copy(update={"audit": AuditSettings(key_file=right)})
    assert load_signer(configured).name == prod.audit.origin


def test_checkpoint_and_key_rotation_commands(
    settings: Settings, services: RecordServices, tmp_path: Path
) -> None:
    log = AuditLog.from_settings(settings, services.store.engine)
    log.append_standalone(entries(5))
    signed = run_cli(settings, "audit", "checkpoint")
    assert signed.returncode == 0, signed.stderr
    assert parse_checkpoint(signed.stdout).checkpoint.size == 5

    rotated = run_cli(settings, "audit", "keys", "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    keys = [VerifierKey.from_text(line) for line in rotated.stdout.splitlines()]
    assert len(keys) == 2 and keys[0] == log.signer.signer.verifier_key
    assert load_signer(settings).verifier_key == keys[1]  # the file now holds the new key

    new_log = AuditLog.from_settings(settings, services.store.engine)
    new_log.append_standalone(entries(2, start=5))
    assert new_log.checkpoint().size == 7  # checked the old key's checkpoint first
    keyfile = tmp_path / "auditor-keys.txt"
    keyfile.write_text(run_cli(settings, "audit", "keys").stdout)
    ok = run_cli(
        settings,
        "audit",
        "verify",
        "--data-dir",
        str(settings.data_dir),
        "--public-key",
        str(keyfile),
    )
    assert ok.returncode == 0 and ok.stdout.startswith("OK: 7 entries match 2 checkpoints"), (
        ok.stdout
    )
    only_new = tmp_path / "new-only.txt"
    only_new.write_text(keys[1].to_text() + "\n")
    bad = run_cli(
        settings,
        "audit",
        "verify",
        "--data-dir",
        str(settings.data_dir),
        "--public-key",
        str(only_new),
    )
    assert bad.returncode == 1 and "bad checkpoint: #0 (size 5)" in bad.stdout.splitlines()


def test_verify_usage_errors_exit_2(settings: Settings, tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("not a key\n")
    result = run_cli(settings, "audit", "verify", "--public-key", str(keys))
    assert result.returncode == 2 and "not a public key" in result.stderr
    keys.write_text(Signer.generate("x.example/log").verifier_key.to_text())
    export = tmp_path / "log.ndjson"
    export.write_bytes(b"")
    result = run_cli(
        settings, "audit", "verify", "--public-key", str(keys), "--export", str(export)
    )
    assert result.returncode == 2


def test_a_configuration_error_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """Verifying a production database without its key-encryption key: exit 2, why."""
    from gateway.storage import migrate
    from gateway.storage.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.sqlite3'}")
    migrate.upgrade(engine)
    engine.dispose()
    keys = tmp_path / "keys.txt"
    keys.write_text(Signer.generate("x.example/log").verifier_key.to_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {"GATEWAY_ENV": "prod", "GATEWAY_DATA_DIR": str(tmp_path)}
    args = ["audit", "verify", "--data-dir", str(tmp_path), "--public-key", str(keys)]
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("configuration error: "), result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_server_signs_what_is_pending_when_it_stops(
    settings: Settings, services: RecordServices
) -> None:
    app = create_app(settings)
    with live_server(app) as srv:
        assert httpx.get(srv.url + "/healthz").status_code == 200
        log: AuditLog = srv.app.state.audit
        log.append_standalone(entries(3))
        with services.store.engine.connect() as conn:
            assert audit_checkpoints.latest(conn) is None
    with services.store.engine.connect() as conn:
        latest = audit_checkpoints.latest(conn)
    assert latest is not None and latest.size == 3
