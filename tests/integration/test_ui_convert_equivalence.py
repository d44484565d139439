"""The UI → API converter (core/graph/ui_format) equals the real editor's own export, node by node.

A real ComfyUI 0.3.75 serves the real frontend (not the suite's stub page): comfyui-frontend-package 1.42.15, a
version with App mode (``scripts/comfyui_host.py`` unpacks it; ComfyUI 0.3.75 itself ships 1.32.9, whose export of
the hand-made files is compared too). Headless Chromium opens it, and for each workflow of the corpus the page runs
the editor's own ``app.loadGraphData(json)`` then ``app.graphToPrompt()``. Its ``output`` is compared with
``convert()`` given the same file and that server's /object_info. ``Math.random`` is pinned in the page (dynamic
prompts pick the first choice) and the converter is given the same choice; graphToPrompt never applies "control
after generate" (queuePrompt does), so seeds are stable.

The corpus: the UI-format files of workflows/ (today all are API format, so none), ComfyUI's bundled example
workflows (ComfyUI 0.3.75 ships none), the templates of the installed comfyui-workflow-templates packages that use
only node types this host has, and tests/data/ui_workflows/ (one file per converter feature).

One known difference is allowed: a node without a title of its own gets, in the editor, the display name of the
frontend's own translation table (built with the frontend), and here the host's display_name. Only ``_meta.title``
of such untitled nodes may differ."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import comfyui_host
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from cozygen.core.graph.ui_format import convert
from cozygen.core.graph.ui_format.widgets import layout

PROJECT = Path(__file__).resolve().parents[2]
HAND_MADE = sorted((PROJECT / "tests" / "data" / "ui_workflows").glob("*.json"))
EDITOR_ONLY = {"Reroute", "PrimitiveNode", "Note", "MarkdownNote"}
# Many files in one call: between separate calls the editor draws the loaded graph (about 2 s a file here); the
# dialogs about missing nodes and models change nothing in the graph, so they stay closed.
EXPORT = """async (files) => {
  const outputs = []
  for (const data of files) {
    await app.loadGraphData(data, true, false, null, {showMissingNodesDialog: false, showMissingModelsDialog: false})
    outputs.push((await app.graphToPrompt()).output)
  }
  return outputs
}"""
BATCH = 20  # files per call
WIDGETS = """() => {
  const found = {}
  for (const type of Object.keys(LiteGraph.registered_node_types)) {
    try {
      const node = LiteGraph.createNode(type)
      found[type] = (node.widgets || []).map(w => [w.name, w.serialize !== false, w.options?.serialize !== false])
    } catch (error) { found[type] = String(error) }
  }
  return found
}"""


def first(choices: Any) -> Any:
    return choices[0]


def template_files() -> list[Path]:
    """Every JSON file of the installed comfyui-workflow-templates media packages."""
    site = comfyui_host.real_front_end_root().parent.parent
    return sorted(p for p in site.glob("comfyui_workflow_templates_media_*/**/*.json"))


TEMPLATES = template_files()


def shipped_ui_files() -> list[Path]:
    return [p for p in sorted((PROJECT / "workflows").glob("*.json")) if "nodes" in json.loads(p.read_text())]


def started(tmp_path_factory: pytest.TempPathFactory, front_end_root: Path) -> comfyui_host.ComfyUI:
    base = tmp_path_factory.mktemp("comfyui-real-frontend")
    return comfyui_host.start(base, front_end_root=front_end_root, env={"COZYGEN_AUTH": "off"})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[comfyui_host.ComfyUI]:
    host = started(tmp_path_factory, comfyui_host.app_mode_front_end_root())
    yield host
    host.stop()


@pytest.fixture(scope="module")
def object_info(server: comfyui_host.ComfyUI) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + "/object_info", timeout=60) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = comfyui_host.launch_chromium(playwright)
        yield browser
        browser.close()


def opened(chromium: Browser, server: comfyui_host.ComfyUI) -> Page:
    """The editor of ``server`` in a new page, ready to load files."""
    page = chromium.new_page()
    page.goto(server.url)
    ready = "window.app && app.graph && Object.keys(LiteGraph.registered_node_types).length > 100"
    page.wait_for_function(ready, timeout=180_000)
    page.evaluate("Math.random = () => 0")
    return page


@pytest.fixture(scope="module")
def editor(chromium: Browser, server: comfyui_host.ComfyUI) -> Iterator[Page]:
    page = opened(chromium, server)
    assert page.evaluate("window.__COMFYUI_FRONTEND_VERSION__") == comfyui_host.APP_MODE_FRONTEND
    yield page
    page.close()


def missing_types(data: dict[str, Any], object_info: dict[str, Any]) -> list[str]:
    definitions = (data.get("definitions") or {}).get("subgraphs") or []
    subgraphs = {d.get("id") for d in definitions}
    nodes = list(data["nodes"]) + [n for d in definitions for n in d.get("nodes") or []]
    return sorted({n["type"] for n in nodes} - set(object_info) - subgraphs - EDITOR_ONLY)


def untitled(data: dict[str, Any]) -> set[str]:
    """Ids (as the editor names them, subgraphs included) of nodes with no title of their own."""
    definitions = {d["id"]: d for d in (data.get("definitions") or {}).get("subgraphs") or []}
    found: set[str] = set()

    def walk(nodes: list[dict[str, Any]], path: tuple[str, ...], depth: int) -> None:
        for node in nodes:
            node_id = ":".join((*path, str(node["id"])))
            if "title" not in node:
                found.add(node_id)
            if node["type"] in definitions and depth < 8:
                walk(definitions[node["type"]]["nodes"], (*path, str(node["id"])), depth + 1)

    walk(data["nodes"], (), 0)
    return found


def exported(files: list[dict[str, Any]], editor: Page) -> list[dict[str, Any]]:
    """The editor's own export of each file, in order."""
    outputs: list[dict[str, Any]] = []
    for start in range(0, len(files), BATCH):
        outputs += json.loads(json.dumps(editor.evaluate(EXPORT, files[start : start + BATCH])))
    return outputs


def differences(data: dict[str, Any], reference: dict[str, Any], object_info: dict[str, Any]) -> list[str]:
    """Node by node, where the converter's API graph differs from the editor's export ``reference``."""
    ours = convert(data, object_info, choose=first).prompt
    loose = untitled(data)
    found = []
    for node_id in sorted(set(reference) | set(ours)):
        want, got = reference.get(node_id), ours.get(node_id)
        if want is not None and got is not None and node_id in loose:
            want = {**want, "_meta": None}
            got = {**got, "_meta": None}
        if want != got:
            found.append(f"node {node_id}: editor {json.dumps(want)[:300]} / ours {json.dumps(got)[:300]}")
    return found


def test_widget_layout_matches_the_editor_for_every_node_type(object_info: dict[str, Any], editor: Page) -> None:
    """For every node type of the host, the widgets that hold a widgets_values slot and those sent to ComfyUI."""
    built = editor.evaluate(WIDGETS)
    wrong = []
    for class_type, definition in object_info.items():
        widgets = built.get(class_type)
        if not isinstance(widgets, list) or class_type in ("WebcamCapture", "Load3D", "Load3DAnimation"):
            continue  # these make their value in the editor; the converter refuses them
        theirs = [(name, sent) for name, saved, sent in widgets if saved]
        ours = [(w.name, w.sent) for w in layout(definition) if w.saved]
        if theirs != ours:
            wrong.append(f"{class_type}: editor {theirs} / ours {ours}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", HAND_MADE + shipped_ui_files(), ids=lambda p: p.name)
def test_hand_made_and_shipped_workflows_equal_the_editors_export(
    path: Path, object_info: dict[str, Any], editor: Page
) -> None:
    data = json.loads(path.read_text())
    assert not missing_types(data, object_info)
    assert convert(data, object_info, choose=first).report["ok"]
    assert differences(data, exported([data], editor)[0], object_info) == []


def test_the_frontend_comfyui_ships_exports_the_hand_made_files_the_same(
    tmp_path_factory: pytest.TempPathFactory, object_info: dict[str, Any], chromium: Browser
) -> None:
    """ComfyUI 0.3.75's own frontend (1.32.9, without App mode) gives the same graphs for every feature's file."""
    host = started(tmp_path_factory, comfyui_host.real_front_end_root())
    try:
        page = opened(chromium, host)
        assert page.evaluate("window.__COMFYUI_FRONTEND_VERSION__") != comfyui_host.APP_MODE_FRONTEND
        files = [json.loads(path.read_text()) for path in HAND_MADE]
        wrong = {
            path.name: found
            for path, data, reference in zip(HAND_MADE, files, exported(files, page), strict=True)
            if (found := differences(data, reference, object_info))
        }
        page.close()
    finally:
        host.stop()
    assert not wrong, "\n".join(f"{name}:\n  " + "\n  ".join(found) for name, found in wrong.items())


def classify(path: Path, object_info: dict[str, Any]) -> str | None:
    """Why a template file is not compared (None: it is)."""
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return "not JSON"
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return "not a UI-format workflow (an index or API-format file)"
    lacking = missing_types(data, object_info)
    return "node types this host lacks: " + ", ".join(lacking[:3]) if lacking else None


CHUNK = 20  # templates per test: each stays well under the suite's per-test timeout
CHUNKS = [TEMPLATES[i : i + CHUNK] for i in range(0, len(TEMPLATES), CHUNK)]


def test_most_templates_are_compared(object_info: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """How many templates the chunks below compare, and why the others are not (printed)."""
    reasons = {path.name: classify(path, object_info) for path in TEMPLATES}
    compared = [name for name, why in reasons.items() if not why]
    with capsys.disabled():
        print(f"\ntemplates: {len(compared)} compared, {len(reasons) - len(compared)} not")
        for name, why in sorted(reasons.items()):
            if why:
                print(f"  not compared {name}: {why}")
    assert len(compared) >= 100


@pytest.mark.parametrize("chunk", CHUNKS, ids=[f"templates-{i + 1:02d}" for i in range(len(CHUNKS))])
def test_templates_this_host_runs_equal_the_editors_export(
    chunk: list[Path], object_info: dict[str, Any], editor: Page, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each template of the chunk that uses only this host's node types, node by node (those the converter
    reports not ok are compared all the same, and named)."""
    compared = [path for path in chunk if not classify(path, object_info)]
    files = [json.loads(path.read_text()) for path in compared]
    reports = [convert(data, object_info, choose=first).report for data in files]
    refused = [path.name for path, report in zip(compared, reports, strict=True) if not report["ok"]]
    wrong = {
        path.name: found
        for path, data, reference in zip(compared, files, exported(files, editor), strict=True)
        if (found := differences(data, reference, object_info))
    }
    if refused:
        with capsys.disabled():
            print(f"\n  reported not ok (compared all the same): {refused}")
    assert not wrong, "\n".join(f"{name}:\n  " + "\n  ".join(found) for name, found in wrong.items())
