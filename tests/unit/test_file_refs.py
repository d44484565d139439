"""core.comfyui.file_refs, core.comfyui.routes and core.comfyui.claims: what the ComfyUI gate decides with."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cozygen.core.accounts.access import ADMIN, USER, VIEWER
from cozygen.core.comfyui.claims import KEPT, Claims
from cozygen.core.comfyui.file_refs import OUTSIDE, annotated, graph_file_refs, locate
from cozygen.core.comfyui.routes import comfyui_rule


@pytest.fixture
def roots(tmp_path: Path) -> dict[str, str]:
    found = {}
    for name in ("output", "input", "temp"):
        (tmp_path / name / "sub").mkdir(parents=True)
        (tmp_path / name / "sub" / f"{name}.png").write_bytes(b"x")
        found[name] = str(tmp_path / name)
    return found


def test_annotated_cuts_the_suffix_as_comfyui_does() -> None:
    assert annotated("a.png [output]") == ("a.png", "output")
    assert annotated("sub/a.png [temp]") == ("sub/a.png", "temp")
    assert annotated("a.png [input]") == ("a.png", "input")
    assert annotated("a.png") == ("a.png", None)


def test_locate_follows_symlinks_and_picks_the_innermost_root(roots: dict[str, str], tmp_path: Path) -> None:
    link = Path(roots["input"]) / "looks-like-input.png"
    link.symlink_to(Path(roots["output"]) / "sub" / "output.png")
    where = locate(link, roots)
    assert (where.root, where.subfolder, where.name) == ("output", "sub", "output.png")
    assert locate(tmp_path / "elsewhere.txt", roots).root == OUTSIDE
    nested = {**roots, "deeper": os.path.join(roots["output"], "sub")}
    assert locate(Path(roots["output"]) / "sub" / "output.png", nested).root == "deeper"


def refs(graph: dict, roots: dict[str, str]) -> set[tuple[str, str]]:
    return {(r.where.root, f"{r.where.subfolder}/{r.where.name}") for r in graph_file_refs(graph, roots)}


def test_every_spelling_of_an_output_in_a_graph_is_found(roots: dict[str, str]) -> None:
    output = ("output", "sub/output.png")
    for value in (
        "sub/output.png [output]",
        "../output/sub/output.png",
        os.path.join(roots["output"], "sub", "output.png"),
        "output::sub::output.png",
    ):
        assert refs({"1": {"inputs": {"image": value}}}, roots) == {output}, value
    nested = {"1": {"inputs": {"files": [{"path": "sub/output.png [output]"}]}}}
    assert refs(nested, roots) == {output}


def test_strings_that_name_no_file_are_left_alone(roots: dict[str, str]) -> None:
    graph = {
        "1": {"inputs": {"text": "/imagine a cat", "prefix": "CozyGen/x", "ckpt": "v1-5.safetensors"}},
        "2": {"inputs": {"image": "sub/input.png", "seed": 5, "link": ["1", 0]}},
    }
    assert refs(graph, roots) == {("input", "sub/input.png")}


def test_missing_outputs_are_listed_so_a_refusal_tells_nothing(roots: dict[str, str]) -> None:
    assert refs({"1": {"inputs": {"image": "sub/gone.png [output]"}}}, roots) == {("output", "sub/gone.png")}
    assert refs({"1": {"inputs": {"image": "/no/such/file.png"}}}, roots) == set()


def test_comfyui_routes_are_an_allowlist() -> None:
    assert comfyui_rule("GET", "/object_info").level == VIEWER
    assert comfyui_rule("HEAD", "/view").adapter == "view"
    assert comfyui_rule("POST", "/prompt").level == USER
    for method, template in (("POST", "/free"), ("GET", "/internal/logs"), ("GET", "/api/jobs"), ("GET", None)):
        assert comfyui_rule(method, template).level == ADMIN
    assert comfyui_rule("GET", "/extensions/x/y.js", static=True).level == VIEWER
    assert comfyui_rule("POST", "/settings").level == ADMIN
    assert comfyui_rule("GET", "/userdata").shared_only


def test_a_client_id_belongs_to_its_first_user() -> None:
    claims = Claims()
    assert claims.claim_client("abc", "alice") and claims.claim_client("abc", "alice")
    assert not claims.claim_client("abc", "bob")
    for n in range(KEPT):
        claims.claim_client(f"other-{n}", "bob")
    assert claims.claim_client("abc", "bob")  # the oldest are forgotten, within a bound


def test_a_users_channel_reaches_all_their_sockets_and_nobody_elses() -> None:
    claims = Claims()
    channel = claims.channel("alice")
    assert claims.channel("alice") == channel != claims.channel("bob")
    claims.socket_opened("s1", "alice")
    claims.socket_opened("s2", "alice")
    claims.socket_opened("s3", "bob")
    assert claims.recipients(channel) == ["s1", "s2"]
    claims.socket_closed("s1", "alice")
    assert claims.recipients(channel) == ["s2"]
    assert claims.recipients("plain-client") is None
    assert claims.recipients("cozygen-user-unknown") == []


def test_temp_files_are_their_prompts() -> None:
    claims = Claims()
    claims.on_message(
        "executed",
        {"prompt_id": "p1", "output": {"images": [{"filename": "a.png", "subfolder": "", "type": "temp"}]}},
    )
    claims.on_message("executed", {"prompt_id": "p2", "output": {"images": [{"filename": "b.png", "type": "output"}]}})
    assert claims.temp_prompt("", "a.png") == "p1"
    assert claims.temp_prompt("", "b.png") is None
