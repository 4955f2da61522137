"""``dmp-gateway clients add|list|remove`` on a registry file of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.auth.dev import generate_private_jwk, public_jwk
from gateway.cli import app

runner = CliRunner()
LONG_NAME = "Logiciel de soins infirmiers à domicile, édition établissements multi-sites"


@pytest.fixture
def registry_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GATEWAY_ENV", "dev")
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    jwks = tmp_path / "public.json"
    jwks.write_text(json.dumps(public_jwk(generate_private_jwk("ES256", kid="soins-2026"))))
    return jwks


def test_a_registered_client_is_listed_whole_outside_a_terminal(registry_env: Path) -> None:
    added = runner.invoke(
        app,
        [
            "clients", "add", "--id", "soins-domicile", "--name", LONG_NAME, "--role", "vendor",
            "--structure", "1750000010", "--structure", "1750000011",
            "--jwks", str(registry_env), "--per-second", "12.5",
        ],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["clients", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split("\t") == ["id", "name", "role", "structures", "group", "keys", "rate"]
    row = next(line.split("\t") for line in lines if line.startswith("soins-domicile\t"))
    assert row[:6] == [
        "soins-domicile",
        LONG_NAME,
        "vendor",
        "1750000010, 1750000011",
        "",
        "soins-2026",
    ]
    assert row[6].startswith("12.5/s")
    assert "…" not in listed.output


def test_a_removed_client_is_no_longer_listed(registry_env: Path) -> None:
    args = ["--name", "X", "--role", "vendor", "--structure", "1750000010"]
    add = ["clients", "add", "--id", "gone-soon", *args, "--jwks", str(registry_env)]
    assert runner.invoke(app, add).exit_code == 0
    removed = runner.invoke(app, ["clients", "remove", "gone-soon"])
    assert removed.exit_code == 0, removed.output
    listed = runner.invoke(app, ["clients", "list"])
    assert "gone-soon" not in listed.output
