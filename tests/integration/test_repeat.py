"""Series against a real ComfyUI with sign-in on: run 3 times, repeat until stopped, bad input, other users,
and a running series that goes on after the server restarts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from support import AUTH_ENV, get, household, post

FORM = "cozygen_procedural_form.json"
QUICK = {"prompt": "a series", "steps": 2, "size": 64}
FINISHED = {"completed", "failed", "cancelled", "interrupted"}
FOLDER = "ComfyUI-CozyGen-repeat"


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui(FOLDER, env=AUTH_ENV)


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    return household(server.url, {"ann": "user", "bob": "user", "vic": "viewer"})


def start(server, who: dict[str, str], times: Any, values: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"workflow": FORM, "values": values or QUICK, "times": times}
    reply = post(f"{server.url}/cozygen/api/series", body, headers=who)
    assert reply.status == 201, reply.body
    return reply.json()["series"]


def series_of(server, who: dict[str, str], series_id: str) -> dict[str, Any]:
    reply = get(f"{server.url}/cozygen/api/series/{series_id}", headers=who)
    assert reply.status == 200, reply.body
    return reply.json()["series"]


def wait(check: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {timeout}s")
        time.sleep(0.1)


def jobs_of(server, who: dict[str, str]) -> list[dict[str, Any]]:
    reply = get(f"{server.url}/cozygen/api/jobs?limit=200", headers=who)
    assert reply.status == 200, reply.body
    return reply.json()["jobs"]


def job_status(server, who: dict[str, str], job_id: str) -> str | None:
    """A job's status; None while it is not recorded yet (a series writes its next job's id before queueing it)."""
    reply = get(f"{server.url}/cozygen/api/jobs/{job_id}", headers=who)
    return reply.json()["job"]["status"] if reply.status == 200 else None


def stop(server, who: dict[str, str], series_id: str, **body: Any):
    return post(f"{server.url}/cozygen/api/series/{series_id}/stop", body or None, headers=who)


def test_run_three_times_makes_three_jobs_with_three_seeds(server, people) -> None:
    ann = people["ann"]
    before = {j["id"] for j in jobs_of(server, ann)}
    series = start(server, ann, 3)
    assert series["status"] == "running" and series["times"] == 3 and series["submitted"] == 1
    done = wait(lambda: (s := series_of(server, ann, series["id"]))["status"] != "running" and s, "the series")
    assert (done["status"], done["completed"], done["submitted"], done["reason"]) == ("done", 3, 3, None), done
    made = [j for j in jobs_of(server, ann) if j["id"] not in before]
    assert len(made) == 3 and {j["status"] for j in made} == {"completed"}
    assert len({j["params"]["seed"] for j in made}) == 3  # a new seed for each
    assert len({j["images"][0]["filename"] for j in made}) == 3
    assert [s["id"] for s in get(f"{server.url}/cozygen/api/series", headers=ann).json()["series"]] == [done["id"]]


def test_bad_times_are_a_400_a_person_can_act_on(server, people) -> None:
    for times in (0, 10001, "forever", 2.5, "3", None, True):
        body = {"workflow": FORM, "values": QUICK, "times": times}
        reply = post(f"{server.url}/cozygen/api/series", body, headers=people["ann"])
        assert reply.status == 400 and reply.json()["code"] == "INVALID_TIMES", (times, reply.body)
        assert "until_stopped" in reply.json()["error"]
    missing = post(f"{server.url}/cozygen/api/series", {"workflow": "nope.json", "times": 2}, headers=people["ann"])
    assert missing.status == 404, missing.body
    assert [s for s in get(f"{server.url}/cozygen/api/series", headers=people["ann"]).json()["series"]
            if s["status"] == "running"] == []  # fmt: skip


def test_until_stopped_goes_on_and_stop_ends_it_and_others_cannot_see_it(server, people) -> None:
    ann, bob, vic = people["ann"], people["bob"], people["vic"]
    series = start(server, ann, "until_stopped")
    assert series["times"] == "until_stopped"
    wait(lambda: series_of(server, ann, series["id"])["completed"] >= 2, "two jobs of the series")
    # nobody else sees it or stops it; a viewer may not start one
    assert get(f"{server.url}/cozygen/api/series/{series['id']}", headers=bob).status == 404
    refused = stop(server, bob, series["id"])
    assert refused.status == 404 and refused.json()["code"] == "SERIES_NOT_FOUND"
    assert get(f"{server.url}/cozygen/api/series", headers=bob).json()["series"] == []
    assert get(f"{server.url}/cozygen/api/series", headers=vic).json()["series"] == []
    viewer = post(f"{server.url}/cozygen/api/series", {"workflow": FORM, "times": 2}, headers=vic)
    assert viewer.status == 403, viewer.body
    assert series_of(server, ann, series["id"])["status"] == "running"
    stopped = stop(server, ann, series["id"])
    assert stopped.status == 200 and stopped.json()["series"]["status"] == "stopped", stopped.body
    wait(lambda: all(j["status"] in FINISHED for j in jobs_of(server, ann)), "the last job to end")
    count = len(jobs_of(server, ann))
    time.sleep(2)
    assert len(jobs_of(server, ann)) == count  # no further job
    ended = series_of(server, ann, series["id"])
    assert ended["status"] == "stopped" and ended["reason"] == "stopped by ann" and ended["current_job"] is None


def test_a_running_series_goes_on_after_a_restart(server, people, front_end_root) -> None:
    import comfyui_host

    ann = people["ann"]
    series = start(server, ann, "until_stopped", {"prompt": "survives a restart", "steps": 40, "size": 512})
    first_job = series["current_job"]
    wait(lambda: job_status(server, ann, first_job) == "running",
         "the first job to run")  # fmt: skip
    server.stop()
    again = comfyui_host.start(server.base, folder_name=FOLDER, env=AUTH_ENV, front_end_root=front_end_root)
    try:
        assert job_status(again, ann, first_job) == "interrupted"
        resumed = wait(
            lambda: (s := series_of(again, ann, series["id"]))["current_job"] not in (None, first_job) and s,
            "the series to queue its next job",
        )
        assert resumed["status"] == "running" and resumed["completed"] == 0
        nxt = resumed["current_job"]
        wait(lambda: job_status(again, ann, nxt) in ("running", *FINISHED),
             "the next job to start")  # fmt: skip
        assert stop(again, ann, series["id"], cancel_job=True).status == 200
        wait(lambda: job_status(again, ann, nxt) in FINISHED,
             "the cancelled job to end")  # fmt: skip
        assert series_of(again, ann, series["id"])["status"] == "stopped"
    finally:
        again.stop()
