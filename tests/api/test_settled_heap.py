"""The served process puts what start-up built out of the cyclic collector's reach."""

from __future__ import annotations

import gc

import httpx

from gateway.app import create_app
from gateway.config import Settings
from tests.support import LiveServer


def test_the_served_app_freezes_its_start_up_objects(settings: Settings) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    server = LiveServer(create_app(settings, settle=True))
    server.start()
    try:
        frozen = gc.get_freeze_count()
        # the profiles, compiled shapes and search registry: well over 100k objects
        assert frozen > 100_000
        assert httpx.get(server.url + "/readyz").status_code == 200
    finally:
        server.stop()
        gc.unfreeze()  # this test process builds many applications: let them be collected


def test_an_application_for_tests_does_not(settings: Settings) -> None:
    gc.unfreeze()
    server = LiveServer(create_app(settings))
    server.start()
    try:
        assert gc.get_freeze_count() == 0
    finally:
        server.stop()
