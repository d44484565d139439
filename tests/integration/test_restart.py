"""Restarting ComfyUI from CozyGen (POST /cozygen/api/system/restart), on a server this module owns alone.

Only an admin may; it is refused while a job runs unless forced; the answer (202) comes before the process
runs its command line again (os.execv: the same PID, a new start time); the jobs recorded before stay, the
one cut short is interrupted; and the process still stops on SIGINT afterwards, as scripts/start stops it.
"""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import pytest
from support import AUTH_ENV, PROJECT, get, household, post

FINISHED = {"completed", "failed", "cancelled", "interrupted"}
RESTART = "/cozygen/api/system/restart"


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-restart", env=dict(AUTH_ENV))


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    return household(server.url, {"una": "user", "vera": "viewer"})


def stats(server, headers: dict[str, str]) -> dict[str, Any]:
    reply = get(f"{server.url}/cozygen/api/system/stats", headers=headers)
    assert reply.status == 200, reply.body
    return reply.json()


def submit(server, headers: dict[str, str], workflow: str, values: dict[str, Any]) -> str:
    reply = post(f"{server.url}/cozygen/api/jobs", {"workflow": workflow, "values": values}, headers=headers)
    assert reply.status in (200, 201, 202), reply.body
    return reply.json()["job"]["id"]


def job(server, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    reply = get(f"{server.url}/cozygen/api/jobs/{job_id}", headers=headers)
    assert reply.status == 200, reply.body
    return reply.json()["job"]


def wait_job(server, headers: dict[str, str], job_id: str, until, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = job(server, headers, job_id)
        if until(current):
            return current
        assert time.monotonic() < deadline, f"job {job_id} still {current}"
        time.sleep(0.05)


def wait_for_new_run(server, headers: dict[str, str], before: float, timeout: float = 180) -> dict[str, Any]:
    """Poll the stats until another run answers (connections refused meanwhile); the process never exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"ComfyUI exited ({server.process.returncode}):\n{server.log()[-3000:]}"
        try:
            reply = get(f"{server.url}/cozygen/api/system/stats", headers=headers, timeout=5)
        except OSError:
            reply = None
        if reply is not None and reply.status == 200 and reply.json().get("started_at") != before:
            return reply.json()
        time.sleep(0.25)
    raise AssertionError(f"ComfyUI did not come back within {timeout}s:\n{server.log()[-3000:]}")


def test_only_an_admin_may_restart(server, people) -> None:
    before = stats(server, people["admin"])["started_at"]
    for who, status in (("una", 403), ("vera", 403), (None, 401)):
        reply = post(f"{server.url}{RESTART}", {"force": True}, headers=people[who] if who else {})
        assert reply.status == status, (who, reply.body)
        assert post(f"{server.url}/api{RESTART}", headers=people[who] if who else {}).status == status
    time.sleep(0.5)
    assert stats(server, people["admin"])["started_at"] == before and server.process.poll() is None


def test_restart_keeps_the_pid_the_records_and_the_sign_ins(server, people) -> None:
    admin, una = people["admin"], people["una"]
    done = submit(server, una, "cozygen_procedural_form.json", {"seed": 7})
    wait_job(server, una, done, lambda j: j["status"] in FINISHED)
    assert job(server, una, done)["status"] == "completed"

    graph = json.loads((PROJECT / "workflows" / "cozygen_procedural_form.json").read_text())
    graph["3"]["inputs"]["max"] = 200
    graph["5"]["inputs"]["batch_size"] = 4  # long enough to be caught running, on any machine
    assert post(f"{server.url}/cozygen/workflows/restart_long.json", graph, headers=admin).status == 200
    long = submit(server, una, "restart_long.json", {"steps": 200, "size": 1024, "seed": 1})
    wait_job(server, una, long, lambda j: j["status"] == "running")

    refused = post(f"{server.url}{RESTART}", headers=admin)
    assert refused.status == 409 and refused.json()["code"] == "JOBS_ON_QUEUE", refused.body
    assert refused.json()["running_jobs"] == 1

    pid, before = server.pid, stats(server, admin)["started_at"]
    answer = post(f"{server.url}{RESTART}", {"force": True}, headers=admin)
    assert answer.status == 202, answer.body
    body = answer.json()
    assert body["restarting"] is True and body["jobs_lost"] == 1 and body["started_at"] == before

    after = wait_for_new_run(server, admin, before)
    assert after["started_at"] > before
    assert server.pid == pid and server.process.poll() is None  # the same process, run again
    assert "restarting ComfyUI" in server.log()

    # Sign-ins, the job done before and the one cut short, as recorded; the restart is in the audit log.
    assert job(server, una, done)["status"] == "completed"
    listed = get(f"{server.url}/cozygen/api/jobs?limit=50", headers=una).json()["jobs"]
    assert done in [j["id"] for j in listed]
    cut = job(server, una, long)
    assert cut["status"] == "interrupted" and cut["error"], cut
    audit = get(f"{server.url}/cozygen/api/audit", headers=admin).json()
    entries = audit["entries"] if isinstance(audit, dict) else audit
    restarts = [e for e in entries if e["action"] == "system.restart"]
    assert [e["actor"] for e in restarts] == ["admin"] and restarts[0]["detail"] == "forced, 1 job(s) lost"

    # A new job runs on the new run.
    again = submit(server, una, "cozygen_procedural_form.json", {"seed": 8})
    assert wait_job(server, una, again, lambda j: j["status"] in FINISHED)["status"] == "completed"


def test_the_restarted_process_still_stops_on_sigint(server) -> None:
    """scripts/start stops ComfyUI with SIGINT (ComfyUI.stop): after an exec it still exits cleanly, unkilled."""
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=15) == 0, server.log()[-2000:]
