"""A property-based fuzz of every operation in CozyGen's OpenAPI spec (schemathesis over hypothesis).

Against a ComfyUI of its own (auth on, signed in as an admin with an API token), schemathesis sends each
operation of api/openapi.yaml (served as /cozygen/api/openapi.json) the values its schema allows and the ones
it refuses (positive and negative cases, with the schema's boundary values first), and no answer may be a 5xx
(save a 501 the operation documents: Spoon Feeder's model loading on a provider that cannot), nor may CozyGen log a
traceback. The run is derandomized (the same cases on every machine) and bounded:
``FUZZ_EXAMPLES`` cases per operation (set COZYGEN_FUZZ_EXAMPLES to go deeper by hand). It is the slow group,
marked ``fuzz``: ``scripts/test -m "not fuzz"`` leaves it out, ``scripts/test -m fuzz`` runs it alone.

The operations that would end the run itself are left out or kept harmless: sign-out and the admin's own
password change (they revoke the token the fuzzer signs in with), changes to the admin's own account (a
new role or password revokes it too; deleting it ends it), revoking the fuzzer's own token, restarting
ComfyUI (tests/integration/test_restart.py covers it), and an LLM endpoint that would make every enrichment
wait on a real network (it, and every LLM provider's URL, points at a closed local port instead).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from support import PROJECT, get, post

pytestmark = pytest.mark.fuzz

ADMIN, ADMIN_PASSWORD = "fuzz-admin", "fuzz admin password 1"
ENV = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": ADMIN_PASSWORD}
FUZZ_EXAMPLES = int(os.environ.get("COZYGEN_FUZZ_EXAMPLES", "15"))
STREAM_SECONDS = 0.5  # an event stream that opened is read this long, then left
# Operations that would revoke or delete the fuzzer's own sign-in (see the module's docstring).
SELF_DEFEATING = ["logout", "changeOwnPassword", "restartComfyUI"]
OWN_ACCOUNT = re.compile(r"^(PATCH|DELETE) /cozygen/api/users/\{user_id\}$")
CLOSED_PORT_LLM = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, a connection fails at once
LLM_PROVIDER_BODIES = (
    "POST /cozygen/api/llm/providers", "POST /cozygen/api/llm/providers/test",
    "PATCH /cozygen/api/llm/providers/{provider_id}",
)  # fmt: skip
FOLDER = "ComfyUI-CozyGen-fuzz"  # custom_nodes/<FOLDER>: how CozyGen's frames are named in a traceback
TRACEBACK = re.compile(r"^Traceback \(most recent call last\):$", re.MULTILINE)


class FuzzHost:
    """The fuzz's server, its admin's Authorization header and id, and how much of its log was read."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.url = str(server.url)
        reply = post(f"{self.url}/cozygen/api/login", {"username": ADMIN, "password": ADMIN_PASSWORD})
        assert reply.status == 200, reply.body
        session = {"Authorization": f"Bearer {reply.json()['token']}"}
        made = post(f"{self.url}/cozygen/api/tokens", {"name": "fuzz"}, headers=session)
        assert made.status == 201, made.body
        self.headers = {"Authorization": f"Bearer {made.json()['token']}"}
        self.token_id = str(made.json()["id"])
        users = get(f"{self.url}/cozygen/api/users", headers=self.headers).json()["users"]
        self.admin_id = next(u["id"] for u in users if u["username"] == ADMIN)
        self.log_read = len(server.log())

    def new_tracebacks(self) -> str:
        """CozyGen's tracebacks in the log written since the last call ("" when there are none)."""
        log = self.server.log()
        fresh, self.log_read = log[self.log_read :], len(log)
        return "\n".join(cozygen_tracebacks(fresh))


def cozygen_tracebacks(log: str) -> list[str]:
    """The tracebacks in ``log`` that pass through CozyGen's code or follow a CozyGen log line. aiohttp's own
    (a request line past its 8190-byte limit, answered 400 before any handler runs) are not CozyGen's."""
    found = []
    starts = [m.start() for m in TRACEBACK.finditer(log)]
    for n, start in enumerate(starts):
        block = log[start : starts[n + 1] if n + 1 < len(starts) else len(log)]
        before = log[:start].rstrip("\n").rpartition("\n")[2]
        if FOLDER in block or "CozyGen" in before:
            found.append(f"{before}\n{block}")
    return found


@pytest.fixture(scope="module")
def fuzz_host(start_comfyui: Callable) -> FuzzHost:
    return FuzzHost(start_comfyui("ComfyUI-CozyGen-fuzz", env=dict(ENV)))


# Loaded from the file the server serves at /cozygen/api/openapi.json (schemathesis.pytest.from_fixture, which
# would load it from the running server, fails under pytest 9 in schemathesis 4.32: it sets Function._nodeid).
schema = schemathesis.openapi.from_path(PROJECT / "api" / "openapi.yaml").exclude(operation_id=SELF_DEFEATING)


def harmless(case: Any, host: FuzzHost) -> None:
    """Keep a case from ending the run (see the module's docstring): edits the case in place."""
    label = f"{case.method.upper()} {case.path}"
    if OWN_ACCOUNT.match(label) and str(case.path_parameters.get("user_id")) == str(host.admin_id):
        case.path_parameters["user_id"] = host.admin_id + 1_000_000
    if label == "DELETE /cozygen/api/tokens/{token_id}" and str(case.path_parameters.get("token_id")) == host.token_id:
        case.path_parameters["token_id"] = f"not-{host.token_id}"
    if label == "PATCH /cozygen/api/settings" and isinstance(case.body, dict) and case.body.get("enrich_url"):
        case.body["enrich_url"] = CLOSED_PORT_LLM
    if label in LLM_PROVIDER_BODIES and isinstance(case.body, dict) and isinstance(case.body.get("url"), str):
        case.body["url"] = CLOSED_PORT_LLM  # a provider the enrichments and tests would wait on


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,  # the same cases on every run and machine (CI is reproducible)
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failing case is reported as it is
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx_or_logs_a_traceback(case: Any, fuzz_host: FuzzHost) -> None:
    harmless(case, fuzz_host)
    streams = "text/event-stream" in str(case.operation.definition.raw.get("responses", {}))
    response = case.call(base_url=fuzz_host.url, headers=fuzz_host.headers, timeout=STREAM_SECONDS if streams else 60)
    documented = response.status_code == 501 and "501" in case.operation.definition.raw.get("responses", {})
    assert response.status_code < 500 or documented, (  # 501: an operation a provider cannot do, said so
        f"{case.method} {case.formatted_path} answered {response.status_code}: {response.text[:2000]}\n"
        f"reproduce: {case.as_curl_command(headers=fuzz_host.headers)}"
    )
    logged = fuzz_host.new_tracebacks()
    assert not logged, f"{case.method} {case.formatted_path} left a traceback in the log:\n{logged[-6000:]}"
