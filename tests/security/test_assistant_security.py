"""The assistant's routes under attack on the shared household (no language model set up there): who may call
them, hostile bodies and ids refused in words before anything reaches a model or the store, another user's
workflows out of reach, and nothing written for a chat that never started."""

from __future__ import annotations

import pytest
from household import FORM, Household
from support import get, post, request
from test_bad_input import DEEP_LIST, DEEP_OBJECT, refused

CHAT = "/cozygen/api/assistant/chat"
ACTIONS = "/cozygen/api/assistant/actions"
CONVERSATION = "/cozygen/api/assistant/conversation"


def test_only_signed_in_users_chat_confirm_and_undo(household: Household) -> None:
    url, body = household.url, {"workflow": FORM, "values": {}, "message": "hi"}
    for path in (CHAT, f"{ACTIONS}/act0123456789abcdef/confirm", f"{ACTIONS}/act0123456789abcdef/undo"):
        for prefix in ("", "/api"):
            refused(post(f"{url}{prefix}{path}", body), 401)
            refused(post(f"{url}{prefix}{path}", body, headers=household.as_("vera")), 403)
    refused(get(f"{url}{CONVERSATION}"), 401)
    refused(request("DELETE", f"{url}{CONVERSATION}", headers=household.as_("vera")), 403)
    assert get(f"{url}{CONVERSATION}", headers=household.as_("vera")).json() == {"messages": []}


@pytest.mark.parametrize(
    ("body", "code"),
    [({"workflow": FORM, "values": {}}, "INVALID_MESSAGE"),
     ({"workflow": FORM, "message": 7}, "INVALID_MESSAGE"),
     ({"workflow": FORM, "message": "x" * 4001}, "MESSAGE_TOO_LONG"),
     ({"message": "hi"}, "MISSING_WORKFLOW"),
     ({"workflow": ["a"], "message": "hi"}, "MISSING_WORKFLOW"),
     ({"workflow": FORM, "values": "prompt=x", "message": "hi"}, "INVALID_VALUES"),
     ({"workflow": FORM, "values": [], "message": "hi"}, "INVALID_VALUES")],
)  # fmt: skip
def test_bad_chat_bodies_are_400_before_any_model_is_asked(household: Household, body: dict, code: str) -> None:
    refused(post(f"{household.url}{CHAT}", body, headers=household.as_("bob")), 400, code)


def test_deep_huge_and_non_json_bodies_are_refused(household: Household) -> None:
    headers = {**household.as_("bob"), "Content-Type": "application/json"}
    for deep in (DEEP_OBJECT, DEEP_LIST):
        raw = ('{"workflow": "' + FORM + '", "message": "hi", "values": ' + deep + "}").encode()
        refused(request("POST", f"{household.url}{CHAT}", headers=headers, raw=raw), 400, "JSON_TOO_DEEP")
        raw = ('{"values": ' + deep + "}").encode()
        refused(request("POST", f"{household.url}{ACTIONS}/act0123456789abcdef/confirm", headers=headers, raw=raw),
                400, "JSON_TOO_DEEP")  # fmt: skip
    refused(request("POST", f"{household.url}{CHAT}", headers=headers, raw=b"\xff\xfe{not json"), 400)
    huge = b'{"workflow": "x", "message": "' + b"a" * (12 * 1024 * 1024) + b'"}'
    reply = request("POST", f"{household.url}{CHAT}", headers=headers, raw=huge)
    assert reply.status in (400, 413), reply.status


@pytest.mark.parametrize(
    "workflow", ["../../comfyui.db", "/etc/passwd", "editor/alice_private.json", "no_such.json", "a\x00b.json"]
)
def test_unknown_foreign_or_path_workflows_are_refused_before_the_model(household: Household, workflow: str) -> None:
    reply = post(f"{household.url}{CHAT}", {"workflow": workflow, "message": "hi"}, headers=household.as_("bob"))
    refused(reply, (400, 404))


def test_without_a_model_a_valid_chat_is_503_and_nothing_is_written(household: Household) -> None:
    body = {"workflow": FORM, "values": {"prompt": "bob's own"}, "message": "hi"}
    reply = post(f"{household.url}{CHAT}", body, headers=household.as_("bob"))
    assert refused(reply, 503, "NO_LLM")["error"].startswith("no language model is set up")
    assert get(f"{household.url}{CONVERSATION}", headers=household.as_("bob")).json() == {"messages": []}


@pytest.mark.parametrize(
    "action_id",
    ["act0123456789abcdef", "..%2F..%2Fetc", "act'%20OR%201=1%20--", "x" * 300, "ACT0123456789ABCDEF", "%00"],
)
def test_odd_or_unknown_action_ids_are_404(household: Household, action_id: str) -> None:
    for verb in ("confirm", "undo"):
        reply = post(f"{household.url}{ACTIONS}/{action_id}/{verb}", headers=household.as_("bob"))
        refused(reply, (400, 404))
