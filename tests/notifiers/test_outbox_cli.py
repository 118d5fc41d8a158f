"""`sentineld outbox`: a permanent rejection is listed as dead, re-queued from the command line
(another process, as an operator would), and then delivered by the running worker."""

from __future__ import annotations

import asyncio
import json

from tests.notifiers.receivers import WebhookReceiver
from tests.notifiers.rig import SECRET


async def test_dead_letter_listed_retried_and_delivered(rig, cli, sentineld_harness) -> None:
    r = await rig(WebhookReceiver(SECRET), poll="50ms")
    config_file = str(sentineld_harness.directory / "sentineld.toml")
    keys = r.enqueue(2)
    r.receiver.fail_next.append((400, {}, "missing field: team"))
    task = asyncio.create_task(r.worker.run())
    try:
        while not r.items("delivered"):  # recorded by the worker, not only received
            await asyncio.sleep(0.01)

        listed = await asyncio.to_thread(cli, "outbox", "--dead", "-c", config_file)
        assert listed.returncode == 0, listed.stderr
        dead = r.items("dead")
        assert [i.key for i in dead] == [keys[0]]
        assert "hook: 1 dead, 1 delivered" in listed.stdout
        assert f"{dead[0].seq}  dead" in listed.stdout and keys[0] in listed.stdout
        assert "last error: permanent: webhook receiver answered 400: missing field: team" in listed.stdout

        as_json = await asyncio.to_thread(cli, "outbox", "--dead", "--json", "-c", config_file)
        [row] = [json.loads(line) for line in as_json.stdout.splitlines()]
        assert row["seq"] == dead[0].seq and row["state"] == "dead" and row["attempts"] == 1

        retried = await asyncio.to_thread(cli, "outbox", "--retry", str(dead[0].seq), "-c", config_file)
        assert retried.returncode == 0 and f"re-queued {dead[0].seq}" in retried.stdout
        for _ in range(500):  # until the worker has recorded it, not only until it was received
            if keys[0] in r.receiver.processed and not r.items("pending"):
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert set(r.receiver.processed) == set(keys)
    assert [i.state for i in r.items()] == ["delivered", "delivered"]
    again = await asyncio.to_thread(cli, "outbox", "--retry", str(dead[0].seq), "-c", config_file)
    assert again.returncode == 1 and "no dead-lettered delivery" in again.stderr
    pending = await asyncio.to_thread(cli, "outbox", "-c", config_file)
    assert "no pending deliveries" in pending.stdout and "hook: 2 delivered" in pending.stdout
