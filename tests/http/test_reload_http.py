"""reload: the HTTP side follows a reloaded [http] section without dropping the server: a new
token applies at once, a new port is bound before the old one is let go, and turning the
section off stops serving."""

from __future__ import annotations

import aiohttp
import pytest

from tests.http.conftest import CONFIG, TOKEN, Running


async def status(session: aiohttp.ClientSession, url: str, token: str) -> int:
    async with session.get(f"{url}/api/status", headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status


async def test_reload_rotates_the_token_and_moves_the_port(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    old_url = running.url
    monkeypatch.setenv("SENTINELD_NEW_TOKEN", "rotated-token")
    config = CONFIG.replace('token = { env = "SENTINELD_API_TEST_TOKEN" }',
                            'token = { env = "SENTINELD_NEW_TOKEN" }')
    (running.path / "sentineld.toml").write_text(config)
    assert await running.daemon.reload()
    assert await status(running.session, old_url, TOKEN) == 401
    assert await status(running.session, old_url, "rotated-token") == 200

    (running.path / "sentineld.toml").write_text(config.replace("port = 0", "port = 0\nlisten = \"127.0.0.2\""))
    assert await running.daemon.reload()
    new_url = running.daemon.http.url.rstrip("/")
    assert new_url.startswith("http://127.0.0.2:")
    assert await status(running.session, new_url, "rotated-token") == 200
    async with aiohttp.ClientSession() as fresh:  # the old port no longer takes connections
        with pytest.raises(aiohttp.ClientConnectionError):
            await status(fresh, old_url, "rotated-token")


async def test_reload_that_turns_http_off_stops_serving(running: Running) -> None:
    url = running.url
    (running.path / "sentineld.toml").write_text(CONFIG.replace("enabled = true", "enabled = false"))
    assert await running.daemon.reload()
    assert running.daemon.http is None
    with pytest.raises(aiohttp.ClientConnectionError):
        await status(running.session, url, TOKEN)
    (running.path / "sentineld.toml").write_text(CONFIG)
    assert await running.daemon.reload()
    assert await status(running.session, running.daemon.http.url.rstrip("/"), TOKEN) == 200
