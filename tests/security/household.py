"""A household on one real ComfyUI: auth on, ``gallery_visibility: per_user``, an admin, two ordinary
users (alice and bob) and a viewer (vera), and one finished job of alice's with its output on disk.

The adversarial tests act as bob (or vera) and try to reach what is alice's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from support import get, post, request

ADMIN, ADMIN_PASSWORD = "admin", "correct horse battery"
PASSWORDS = {"alice": "alice-pass-123", "bob": "bob-pass-1234", "vera": "vera-pass-123"}
ROLES = {"alice": "user", "bob": "user", "vera": "viewer"}
FORM = "cozygen_procedural_form.json"
ENV = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": ADMIN_PASSWORD}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(url: str, username: str, password: str) -> dict[str, str]:
    reply = post(f"{url}/cozygen/api/login", {"username": username, "password": password})
    assert reply.status == 200, reply.body
    return bearer(reply.json()["token"])


@dataclass
class Household:
    server: Any
    people: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> Authorization header
    alice_job: dict[str, Any] = field(default_factory=dict)  # alice's finished job, as GET /jobs/{id} gives it
    alice_image: dict[str, Any] = field(default_factory=dict)  # its first image: filename, subfolder, type, id

    @property
    def url(self) -> str:
        return str(self.server.url)

    def as_(self, who: str) -> dict[str, str]:
        return self.people[who]

    def generate(self, who: str, prompt: str, seed: int) -> dict[str, Any]:
        """Run a weights-free job as ``who`` to the end; returns the finished job."""
        created = post(
            f"{self.url}/cozygen/api/jobs",
            {"workflow": FORM, "values": {"prompt": prompt, "steps": 2, "size": 64, "seed": seed}},
            headers=self.people[who],
        )
        assert created.status == 201, created.body
        job_id = created.json()["job"]["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = get(f"{self.url}/cozygen/api/jobs/{job_id}", headers=self.people[who]).json()["job"]
            if job["status"] == "completed":
                return job
            assert job["status"] in ("pending", "running"), job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish")

    def image_id(self, image: dict[str, Any]) -> int:
        """The gallery id of an output (waits for the index to see it), read as the admin."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = get(f"{self.url}/cozygen/api/gallery?recursive=true&per_page=500", headers=self.people["admin"])
            for item in found.json().get("items", []):
                if item.get("filename") == image["filename"] and item.get("id") is not None:
                    return int(item["id"])
            time.sleep(0.1)
        raise AssertionError(f"{image['filename']} was never indexed")


def make_household(server: Any) -> Household:
    home = Household(server)
    home.people["admin"] = login(home.url, ADMIN, ADMIN_PASSWORD)
    for name, password in PASSWORDS.items():
        made = post(
            f"{home.url}/cozygen/api/users",
            {"username": name, "password": password, "role": ROLES[name]},
            headers=home.people["admin"],
        )
        assert made.status == 201, made.body
        home.people[name] = login(home.url, name, password)
    changed = request(
        "PATCH", f"{home.url}/cozygen/api/settings", {"gallery_visibility": "per_user"}, headers=home.people["admin"]
    )
    assert changed.status == 200, changed.body
    home.alice_job = home.generate("alice", "alicesecret lighthouse at dusk", 4242)
    home.alice_image = dict(home.alice_job["images"][0])
    home.alice_image["id"] = home.image_id(home.alice_image)
    return home
