"""Converting editor (UI-format) workflows to API graphs (core/graph/ui_format): the median time per workflow.

    PY=~/.cache/cozygen/comfyui-0.3.75-py311/bin/python
    $PY bench/convert.py [object_info.json]

Measures the five largest workflows of the corpus (the installed comfyui-workflow-templates packages and
tests/data/ui_workflows) and a generated graph of 300 nodes (txt2img chains, reroutes, primitives, a muted and a
bypassed node, a subgraph). The node definitions are ComfyUI's /object_info: the file given, else the subset
of tests/data/ui_workflows/object_info (a template whose node types it lacks is timed all the same: a missing
type is reported, not converted, so those figures are a lower bound; give a full /object_info to time them
whole, e.g. `curl http://127.0.0.1:8188/object_info > oi.json`). Target: under 20 ms median for 300 nodes.
The figure is the process's CPU time (wall time is printed beside it: on a loaded machine it mostly measures
waiting for a core).
Then the listing of 500 saved editor workflows (copies of the corpus in 10 folders of a temporary ComfyUI user
folder) as the phone's list reads them (``WorkflowChecks.detailed``: walk, stat, convert and check each): cold,
then cached by each file's mtime (target under 50 ms cached).
"""

from __future__ import annotations

import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import import_project_as  # noqa: E402

import_project_as("cozygen")

from cozygen.core.graph.ui_format import convert  # noqa: E402
from cozygen.core.workflows.checks import WorkflowChecks  # noqa: E402
from cozygen.core.workflows.store import WorkflowStore  # noqa: E402

DATA = ROOT / "tests" / "data" / "ui_workflows"


def median_ms(data: dict[str, Any], object_info: dict[str, Any], runs: int = 30) -> str:
    """Median CPU time of this process (what the conversion costs, unlike wall time on a busy machine) and
    median wall time, in ms."""
    cpu, wall = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        convert(data, object_info, choose=lambda choices: choices[0])
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return f"{statistics.median(cpu):7.2f} ms CPU ({statistics.median(wall):7.2f} ms wall) median"


def corpus() -> list[Path]:
    files = sorted(DATA.glob("*.json"))
    try:
        import comfyui_frontend_package

        site = Path(comfyui_frontend_package.__file__).resolve().parent.parent
        files += sorted(site.glob("comfyui_workflow_templates_media_*/**/*.json"))
    except ImportError:
        pass
    return files


def generated(nodes: int) -> dict[str, Any]:
    """A UI workflow of about ``nodes`` nodes: copies of the hand-made feature files side by side."""
    parts = [json.loads((DATA / f"{name}.json").read_text()) for name in ("reroutes_both_kinds", "muted_and_bypassed")]
    parts.append(json.loads((DATA / "primitive_and_converted_widget.json").read_text()))
    nested = json.loads((DATA / "nested_subgraphs.json").read_text())
    out: dict[str, Any] = {"nodes": [], "links": [], "extra": {}, "version": 0.4, "definitions": nested["definitions"]}
    offset = 0
    while len(out["nodes"]) < nodes:
        part = copy.deepcopy(parts[len(out["nodes"]) % len(parts)])
        for node in part["nodes"]:
            node["id"] += offset
            for slot in node.get("inputs") or []:
                if slot.get("link") is not None:
                    slot["link"] += offset
        for link in part["links"]:
            if isinstance(link, dict):
                link = [link["id"], link["origin_id"], link["origin_slot"], link["target_id"], link["target_slot"], "*"]
            out["links"].append([link[0] + offset, link[1] + offset, link[2], link[3] + offset, link[4], link[5]])
        out["nodes"] += part["nodes"]
        offset += 1000
    nested_nodes = copy.deepcopy(nested["nodes"])
    for node in nested_nodes:
        node["id"] += offset
        for slot in node.get("inputs") or []:
            if slot.get("link") is not None:
                slot["link"] += offset
    out["nodes"] += nested_nodes
    out["links"] += [[x[0] + offset, x[1] + offset, x[2], x[3] + offset, x[4], x[5]] for x in nested["links"]]
    return out


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA / "object_info" / "comfyui_0.3.75_subset.json"
    object_info = json.loads(source.read_text())
    workflows = []
    for path in corpus():
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("nodes"), list):
            subgraphs = (data.get("definitions") or {}).get("subgraphs") or []
            size = len(data["nodes"]) + sum(len(s.get("nodes") or []) for s in subgraphs)
            workflows.append((size, path.name, data))
    workflows.sort(key=lambda w: -w[0])
    print(f"object_info: {source.name} ({len(object_info)} node types); {len(workflows)} UI workflows in the corpus")
    for size, name, data in workflows[:5]:
        print(f"  {name:60s} {size:4d} nodes  {median_ms(data, object_info)}")
    big = generated(300)
    count = len(big["nodes"])
    prompt = convert(big, object_info).prompt
    figure = median_ms(big, object_info)
    label = "generated graph"
    print(f"  {label:60s} {count:4d} nodes  {figure} ({len(prompt)} API nodes; target < 20 ms)")

    listing(workflows, object_info)


def listing(workflows: list[tuple[int, str, dict[str, Any]]], object_info: dict[str, Any], count: int = 500) -> None:
    """The phone's list of ``count`` saved editor workflows: the first read (every file converted and checked)
    and the kept one (a walk and a ``stat`` per file), in wall time."""
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        folder = root / "user" / "default" / "workflows"
        for n in range(count):
            _, name, data = workflows[n % len(workflows)]
            path = folder / f"folder {n % 10}" / f"{n:03d} {name}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data))
        (root / "shipped").mkdir()
        store = WorkflowStore(root / "shipped", root / "saved", folder)
        checks, definitions = WorkflowChecks(), (object_info, {})
        start = time.perf_counter()
        entries, _ = checks.detailed(store, definitions)
        cold = (time.perf_counter() - start) * 1000
        times = []
        for _ in range(20):
            start = time.perf_counter()
            checks.detailed(store, definitions)
            times.append((time.perf_counter() - start) * 1000)
        print(f"listing {len(entries)} saved editor workflows: cold {cold:.0f} ms, "
              f"cached {statistics.median(times):.1f} ms median (target < 50 ms cached)")  # fmt: skip


if __name__ == "__main__":
    main()
