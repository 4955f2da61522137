"""Importing every gateway module, with an empty environment, opens nothing and writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import importlib, os, pkgutil, socket, sqlite3
def refuse(*args, **kwargs):
    raise AssertionError("a connection was opened at import time")
socket.socket.connect = refuse
socket.create_connection = refuse
sqlite3.connect = refuse
import gateway
names = [m.name for m in pkgutil.walk_packages(gateway.__path__, "gateway.")
         if ".migrations." not in m.name and not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_import_opens_no_connection_and_writes_no_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env={},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 30
    assert list(tmp_path.iterdir()) == [], "nothing may be created at import time"
