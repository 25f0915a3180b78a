"""Signing keys sealed at rest, production's refusal of plaintext keys, rotation end to end (CLI + server)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from joserfc.jwk import KeySet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.key_vault import KeyVault, KeyVaultError, new_encryption_key
from auth.tokens import JwksSource
from tests.realtime_api.support import free_port
from tests.support.builders import Builder

VIEWER = {"query": "{ viewer { subject } }"}


def test_a_sealed_key_opens_only_with_its_key_and_kid() -> None:
    first, second = new_encryption_key(), new_encryption_key()
    vault = KeyVault.from_setting(first)
    assert vault is not None
    sealed = vault.seal("kid-1", "-----BEGIN PRIVATE KEY-----\nsecret\n")
    assert "secret" not in sealed and sealed.startswith(f"aesgcm:v1:{vault.fingerprint}:")
    assert vault.open("kid-1", sealed).endswith("secret\n")
    with pytest.raises(KeyVaultError, match="does not open"):
        vault.open("kid-2", sealed)  # moved onto another row
    other = KeyVault.from_setting(second)
    assert other is not None
    with pytest.raises(KeyVaultError, match="does not hold"):
        other.open("kid-1", sealed)
    # Rotating the encryption key: new one first, the old one still opens.
    both = KeyVault.from_setting(f"{second}, {first}")
    assert both is not None and both.open("kid-1", sealed).endswith("secret\n")
    assert not both.sealed_by_current_key(sealed) and both.sealed_by_current_key(both.seal("k", "x"))
    # Standard base64 with padding is accepted too.
    standard = base64.b64encode(base64.urlsafe_b64decode(first + "=")).decode()
    assert KeyVault.from_setting(standard) is not None
    assert KeyVault.from_setting("  ") is None
    with pytest.raises(KeyVaultError, match="32 bytes"):
        KeyVault.from_setting("c2hvcnQ")


async def test_a_cached_key_set_is_reloaded_after_max_age() -> None:
    now = [0.0]
    published = [{"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ", "kid": "old", "use": "sig"}]}]

    async def fetch() -> dict[str, object]:
        return published[0]

    source = JwksSource("iss", fetch, refresh_interval=30, max_age=60, clock=lambda: now[0])
    assert await source.find("old") is not None
    # The key was retired; its successor is published.
    published[0] = {"keys": [{"kty": "oct", "k": "bmV3LXNlY3JldC1uZXctc2VjcmV0", "kid": "new", "use": "sig"}]}
    now[0] = 59
    assert source.cached("old") is not None
    now[0] = 61
    assert source.cached("old") is None
    assert await source.find("old") is None
    assert await source.find("new") is not None


# ------------------------------------------------------------------ the CLI --


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode().strip(), err.decode()


class _Server:
    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc, self.url = proc, url


@pytest.fixture
async def start_server(db_url: str) -> AsyncIterator[object]:
    started: list[asyncio.subprocess.Process] = []

    async def start(env: dict[str, str]) -> tuple[int | None, str]:
        """Start `casegraph serve`; (None, url) once healthy, or (exit code, stderr) when it refused."""
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--no-migrate",
            "--port",
            str(port),
            env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        started.append(proc)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(300):
                if proc.returncode is not None:
                    break
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return None, f"http://127.0.0.1:{port}"
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        return proc.returncode, err.decode()

    yield start
    for proc in started:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.communicate(), 30)


def _env(db_url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": db_url, "CASEGRAPH_WORKERS": "false", "CASEGRAPH_ENV": "development"}
    env.pop("OAUTH_KEY_ENCRYPTION_KEY", None)
    return {**env, **extra}


async def _stored(engine: AsyncEngine) -> dict[str, tuple[str | None, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT kid, private_pem, sealed_private_key FROM signing_keys"))
        return {kid: (pem, sealed) for kid, pem, sealed in rows}


async def test_production_refuses_a_plaintext_key_until_it_is_sealed(
    db_url: str, engine: AsyncEngine, start_server: object
) -> None:
    start = start_server
    kek = new_encryption_key()
    # A key made before encryption at rest existed (or without the setting): plaintext.
    code, kid, _ = await _cli(_env(db_url), "rotate-key")
    assert code == 0 and (await _stored(engine))[kid][0] is not None

    production = _env(db_url, CASEGRAPH_ENV="production", OAUTH_KEY_ENCRYPTION_KEY=kek)
    code, err = await start(production)  # type: ignore[operator]
    assert code == 2 and f"{kid} are stored in plaintext" in err and "casegraph encrypt-keys" in err
    assert "Traceback" not in err

    code, _, err = await _cli(production, "rotate-key")  # sealing new keys is fine meanwhile
    assert code == 0
    code, _, err = await _cli(_env(db_url, CASEGRAPH_ENV="production"), "rotate-key")
    assert code == 2 and "set OAUTH_KEY_ENCRYPTION_KEY first" in err
    code, sealed_kids, _ = await _cli(production, "encrypt-keys")
    assert code == 0 and sealed_kids.split() == [kid]
    stored = await _stored(engine)
    assert all(pem is None and sealed for pem, sealed in stored.values())
    assert "BEGIN" not in json.dumps(stored)
    code, listing, _ = await _cli(production, "list-keys")
    assert "PLAINTEXT" not in listing and listing.count("sealed") == 2

    code, err = await start(
        _env(db_url, CASEGRAPH_ENV="production", OAUTH_KEY_ENCRYPTION_KEY=new_encryption_key())
    )  # type: ignore[operator]
    assert code == 2 and "does not hold" in err
    code, url = await start(production)  # type: ignore[operator]
    assert code is None
    async with httpx.AsyncClient(base_url=url) as http:
        jwks = (await http.get("/.well-known/jwks.json")).json()
    assert len(KeySet.import_key_set(jwks).keys) == 2


async def test_rotation_old_tokens_verify_until_retired(
    db_url: str, engine: AsyncEngine, start_server: object
) -> None:
    start = start_server
    await Builder(engine).staff(email="ana@example.com", role="ADMIN")
    env = _env(db_url, OAUTH_KEY_ENCRYPTION_KEY=new_encryption_key())
    _, old_kid, _ = await _cli(env, "rotate-key")
    _, old_token, _ = await _cli(env, "token", "--subject", "ana@example.com")
    _, new_kid, _ = await _cli(env, "rotate-key")
    _, new_token, _ = await _cli(env, "token", "--subject", "ana@example.com")

    def kid_of(token: str) -> str:
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        return str(header["kid"])

    assert (kid_of(old_token), kid_of(new_token)) == (old_kid, new_kid)
    code, url = await start(env)  # type: ignore[operator]
    assert code is None, url
    async with httpx.AsyncClient(base_url=url) as http:
        for token in (old_token, new_token):
            response = await http.post("/graphql", json=VIEWER, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text

    code, _, _ = await _cli(env, "retire-key", old_kid)
    assert code == 0
    code, _, err = await _cli(env, "retire-key", old_kid)
    assert code == 2 and "no active signing key" in err
    code, url = await start(env)  # type: ignore[operator]
    async with httpx.AsyncClient(base_url=url) as http:
        old = await http.post("/graphql", json=VIEWER, headers={"Authorization": f"Bearer {old_token}"})
        new = await http.post("/graphql", json=VIEWER, headers={"Authorization": f"Bearer {new_token}"})
        jwks = (await http.get("/.well-known/jwks.json")).json()
    assert old.status_code == 401 and new.status_code == 200
    assert [k["kid"] for k in jwks["keys"] if not k["kid"].startswith("dev-")] == [new_kid]
