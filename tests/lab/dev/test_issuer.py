"""roasloop dev's local issuer: the tokens it signs pass the console's production checks, and scripts get them too."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from streams.cli import main
from streams.integrations.firebase import FirebaseVerifier, JwksCache
from streams.lab.dev.issuer import LocalIssuer


async def verify(issuer: LocalIssuer, token: str) -> tuple[str, str | None, frozenset[str] | None]:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=issuer.jwks()))
    async with httpx.AsyncClient(transport=transport) as http:
        principal = await FirebaseVerifier(issuer.project, JwksCache("http://dev/jwks.json", http)).verify(token)
    return principal.sub, principal.role, principal.tenants


async def test_a_dev_token_passes_the_production_verifier_with_its_role_and_tenants(tmp_path: Path) -> None:
    issuer = LocalIssuer.load_or_create(tmp_path / "issuer.json")
    assert await verify(issuer, issuer.token("EDITOR", ["sandbox"], sub="eve")) == ("eve", "EDITOR",
                                                                                     frozenset({"sandbox"}))
    again = LocalIssuer.load_or_create(tmp_path / "issuer.json")  # a restarted stack keeps its key
    assert again.kid == issuer.kid and await verify(issuer, again.token("VIEWER"))
    assert (tmp_path / "issuer.json").stat().st_mode & 0o077 == 0  # the private key is its owner's alone


async def test_roasloop_token_prints_a_token_of_the_dev_stacks_issuer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["token", "--role", "ADMIN", "--tenant", "acme"]) == 2  # no dev stack ran here yet
    assert "run `roasloop dev`" in capsys.readouterr().err
    issuer = LocalIssuer.load_or_create()  # what roasloop dev does on start, in its working directory
    assert main(["token", "--role", "ADMIN", "--tenant", "acme", "--tenant", "globex", "--sub", "ci"]) == 0
    token = capsys.readouterr().out.strip()
    assert await verify(issuer, token) == ("ci", "ADMIN", frozenset({"acme", "globex"}))
