"""api.definitions.HostDefinitions: once its copy is old, /object_info is read again only when what it lists
(model files, the input folder) changed, or the copy reached its maximum age."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from unit.fake_host import FakeHost

from cozygen.api.definitions import HostDefinitions


def test_an_old_copy_is_read_again_only_when_what_it_lists_changed(tmp_path: Path) -> None:
    fake = FakeHost(tmp_path, models={"checkpoints": ["a.safetensors"]})
    (tmp_path / "input").mkdir(exist_ok=True)
    reads: list[int] = []
    listed = fake.object_info

    def counted() -> dict:
        reads.append(1)
        return listed()

    fake.object_info = counted  # type: ignore[method-assign]
    definitions = HostDefinitions(fake)

    async def after_ttl(*, older_than_max_age: bool = False) -> tuple:
        """A read once the kept copy is past its TTL (and, asked so, its maximum age), and the renewal after it."""
        definitions._read_at -= definitions.TTL + 1
        if older_than_max_age:
            definitions._fresh_at -= definitions.MAX_AGE + 1
        value = await definitions.get()
        while definitions._renewing is not None:
            await asyncio.sleep(0.01)
        return value

    async def scenario() -> list[int]:
        counts = []
        await definitions.get()
        counts.append(len(reads))  # the first read
        await after_ttl()
        counts.append(len(reads))  # nothing changed: kept
        fake.models["checkpoints"].append("b.safetensors")
        await after_ttl()
        counts.append(len(reads))  # a model came
        later = (tmp_path / "input").stat().st_mtime_ns + 10**9
        os.utime(tmp_path / "input", ns=(later, later))  # a file uploaded to the input folder
        await after_ttl()
        counts.append(len(reads))
        await after_ttl(older_than_max_age=True)
        counts.append(len(reads))  # unchanged, but read again at its maximum age
        return counts

    assert asyncio.run(scenario()) == [1, 1, 2, 3, 4]
    assert asyncio.run(definitions.get())[1]["checkpoints"] == ["a.safetensors", "b.safetensors"]
