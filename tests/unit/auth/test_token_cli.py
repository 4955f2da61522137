"""``dmp-gateway token`` refuses to mint what the server would refuse; ports are bounded."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.auth import demo
from gateway.cli import app

runner = CliRunner()


@pytest.fixture
def dev_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GATEWAY_ENV", "dev")
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--client", "nosuch"], "unknown demo client 'nosuch'; known: demo-admin"),
        (["--mode", "nosuch"], "is not one of: bris_de_glace, centre_15, normal"),
        (["--mode", "bris_de_glace"], "needs --justification"),
        (["--role", "patient", "--mode", "centre_15"], "for professionals only"),
        (["--patient", "123"], "--patient '123' is not a valid INS"),
        (["--patient", demo.PATIENT_INS[0][:-1] + "0"], "is not a valid INS"),
        (["--idnat", "123"], "is not a valid idNat_PS"),
        (["--role", "patient", "--idnat", "123"], "is not a valid INS"),
    ],
)
def test_a_token_the_server_would_refuse_is_not_minted(
    dev_env: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["token", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


@pytest.mark.parametrize("ttl", ["99999", "301", "0", "-5"])
def test_a_lifetime_beyond_what_the_server_accepts_is_a_usage_error(
    dev_env: Path, ttl: str
) -> None:
    result = runner.invoke(app, ["token", "--ttl", ttl])
    assert result.exit_code == 2 and "--ttl" in result.output
    assert result.stdout == ""


def test_valid_options_still_mint_a_token(dev_env: Path) -> None:
    args = ["--patient", demo.PATIENT_INS[0], "--ttl", "300", "--mode", "centre_15"]
    result = runner.invoke(app, ["token", *args])
    assert result.exit_code == 0, result.output
    assert result.stdout.count(".") == 2  # a compact JWS
    breaking = ["--mode", "bris_de_glace", "--justification", "urgence vitale"]
    assert runner.invoke(app, ["token", *breaking]).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "99999"],
        ["serve", "--port", "-5"],
        ["mllp", "--client", "demo-ehpad", "--port", "99999"],
        ["mllp", "--client", "demo-ehpad", "--port", "-5"],
        ["mllp", "--client", "demo-ehpad", "--metrics-port", "70000"],
    ],
)
def test_a_port_out_of_range_is_a_usage_error(dev_env: Path, args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "port" in result.output and "running on" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_metrics_ports_of_several_processes_must_all_fit(dev_env: Path) -> None:
    args = ["mllp", "--client", "demo-ehpad", "--port", "2575", "--processes", "4"]
    result = runner.invoke(app, [*args, "--metrics-port", "65534"])
    assert result.exit_code == 2
    assert "needs ports 65534..65537" in result.stderr
