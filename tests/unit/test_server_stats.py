"""core.server_stats: ComfyUI's system stats cut down to what anyone signed in may see."""

from __future__ import annotations

import json

from unit.fake_host import FakeHost

from cozygen.core.server_stats import public_stats


def test_only_devices_memory_versions_and_the_queue_pass(tmp_path) -> None:
    host = FakeHost(tmp_path)
    stats = public_stats(host.system_stats(), running=1, pending=2, cozygen_version="1.2.3", comfyui_version="0.3.75")
    assert stats["devices"] == [
        {"name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", "type": "cuda", "index": 0,
         "vram_total": 24 * 2**30, "vram_free": 18 * 2**30},
    ]  # fmt: skip
    assert (stats["ram_total"], stats["ram_free"]) == (32 * 2**30, 20 * 2**30)
    assert stats["python_version"] == "3.11.7" and stats["pytorch_version"] == "2.5.1+cu124"
    assert stats["cozygen_version"] == "1.2.3" and stats["queue"] == {"running": 1, "pending": 2}
    text = json.dumps(stats)
    assert "/home/ann" not in text and "argv" not in text and "GCC" not in text and "0.0.0.0" not in text


def test_a_host_that_cannot_say() -> None:
    stats = public_stats({}, running=0, pending=0, cozygen_version="1", comfyui_version="0.3.75")
    assert stats["devices"] == [] and stats["ram_total"] is None and stats["comfyui_version"] == "0.3.75"
    odd = {"system": {"ram_total": True, "python_version": 3}, "devices": [{"name": ["x"], "vram_total": "9"}, 5]}
    stats = public_stats(odd, running=0, pending=0, cozygen_version="1", comfyui_version=None)
    assert stats["devices"] == [{"name": None, "type": None, "index": None, "vram_total": None, "vram_free": None}]
    assert stats["ram_total"] is None and stats["python_version"] is None and stats["comfyui_version"] is None
