"""``dmp-gateway clients add|list|remove`` on a registry file of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

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
            "--structure", "1750000010", "--structure", "1750000028",
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
        "1750000010, 1750000028",
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


def _add(*args: str) -> Result:
    base = ["clients", "add", "--id", "x", "--name", "X", "--role", "vendor"]
    return runner.invoke(app, [*base, *args])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file"),
        ("not json", "not a JSON file"),
        ("[1, 2]", "expected a JWK or a JWKS"),
        ('{"keys": []}', "expected a JWK or a JWKS"),
    ],
)
def test_an_unreadable_jwks_file_is_refused_in_one_line(
    registry_env: Path, content: str | None, message: str
) -> None:
    jwks = registry_env.parent / "other.json"
    if content is not None:
        jwks.write_text(content)
    result = _add("--structure", "1750000010", "--jwks", str(jwks))
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("structure", ["123", "1750000011x", "", "abc", "1750000019"])
def test_a_structure_that_is_not_an_idnat_struct_is_refused(
    registry_env: Path, structure: str
) -> None:
    result = _add("--structure", structure, "--jwks", str(registry_env))
    assert result.exit_code == 2, result.output
    assert f"--structure {structure!r}" in result.stderr
    listed = runner.invoke(app, ["clients", "list"])
    assert "\nx\t" not in listed.output
