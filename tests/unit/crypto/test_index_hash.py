"""The index hasher (HMAC-SHA-256) and where its key comes from (issue 9)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.app import create_app
from gateway.config import CryptoSettings, Settings
from gateway.crypto.index_hash import DIGEST_CHARS, IndexHasher
from gateway.crypto.index_key import index_hasher
from gateway.keyfile import ConfigurationError

KEY = bytes(range(32))


def test_the_digest_is_hmac_sha256_of_the_labelled_value() -> None:
    digest = IndexHasher(KEY)("279035121518989")
    mac = hmac.new(KEY, b"identifier\x00279035121518989", hashlib.sha256).digest()
    assert digest == base64.urlsafe_b64encode(mac).decode().rstrip("=")
    assert len(digest) == DIGEST_CHARS


def test_digests_depend_on_key_purpose_and_exact_value() -> None:
    hasher = IndexHasher(KEY)
    assert hasher("AB12") == hasher("AB12")
    assert hasher("AB12") != hasher("ab12")
    assert hasher("AB12") != IndexHasher(bytes(32))("AB12")
    assert hasher("AB12") != hasher.for_purpose("name")("AB12")
    assert "000102" not in repr(hasher)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        IndexHasher(b"short")


def _settings(tmp_path: Path, env: str = "dev", **crypto: object) -> Settings:
    return Settings(env=env, data_dir=tmp_path, crypto=CryptoSettings(**crypto))


def test_dev_generates_the_key_once_under_the_data_dir(tmp_path: Path) -> None:
    first = index_hasher(_settings(tmp_path))
    again = index_hasher(_settings(tmp_path))
    assert first is not None and again is not None
    assert first("x") == again("x")
    assert (tmp_path / "index.key").stat().st_mode & 0o777 == 0o600


def test_production_needs_an_explicit_key_while_anything_is_hashed(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GATEWAY_CRYPTO__INDEX_KEY"):
        index_hasher(_settings(tmp_path, "prod"))
    with pytest.raises(ConfigurationError, match="GATEWAY_CRYPTO__INDEX_KEY"):
        index_hasher(_settings(tmp_path, "prod", hash_identifiers=False, clear_names=False))
    assert index_hasher(_settings(tmp_path, "prod", hash_identifiers=False)) is None
    with pytest.raises(ConfigurationError, match="does not exist"):
        index_hasher(_settings(tmp_path, "prod", index_key_file=tmp_path / "missing.key"))
    assert not (tmp_path / "index.key").exists()


def test_production_app_refuses_to_start_without_an_index_key(tmp_path: Path) -> None:
    settings = Settings(env="prod", data_dir=tmp_path, secret_key="ab" * 32)
    with pytest.raises(ConfigurationError, match="INDEX_KEY"):
        create_app(settings)


def test_the_key_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    from_env = index_hasher(_settings(tmp_path, "prod", index_key=SecretStr(KEY.hex())))
    path = tmp_path / "idx.key"
    path.write_text(base64.b64encode(KEY).decode())
    from_file = index_hasher(_settings(tmp_path, "prod", index_key_file=path))
    assert from_env is not None and from_file is not None
    assert from_env("v") == from_file("v") == IndexHasher(KEY)("v")
    with pytest.raises(ConfigurationError, match="GATEWAY_CRYPTO__INDEX_KEY must hold"):
        index_hasher(_settings(tmp_path, "prod", index_key=SecretStr("abcd")))
