"""core.graph.ui_format.text_replacements: the editor's %Node.widget% and %date:...% in save nodes' prefixes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cozygen.core.graph.ui_format import convert
from cozygen.core.graph.ui_format.text_replacements import format_date, js_string, replace_dates

DATA = Path(__file__).resolve().parents[1] / "data" / "ui_workflows"
OBJECT_INFO: dict[str, Any] = json.loads((DATA / "object_info" / "comfyui_0.3.75_subset.json").read_text())
NOW = datetime(2026, 3, 4, 5, 6, 7)


def test_node_references_are_replaced_on_conversion_as_the_editor_does() -> None:
    prompt = convert(json.loads((DATA / "text_replacements.json").read_text()), OBJECT_INFO).prompt
    parts = prompt["7"]["inputs"]["filename_prefix"].split("_")
    assert parts[:2] == ["123456789/20", "7.5"]  # by search name; by title (no name saved: its type counts)
    assert "sd15.safetensors" in parts and "fixed" in parts  # a widget that is not sent counts too
    assert "%Nowhere.seed%" in parts and "%KSampler.nowidget%" in parts  # left for nobody: unchanged
    assert "%width%" in parts and "%a.b.c%" in parts  # ComfyUI's own, and not a node reference
    assert '"' not in prompt["7"]["inputs"]["filename_prefix"].split("/", 1)[1]  # unsafe characters became _


def test_dates_are_put_in_when_a_job_is_filled() -> None:
    prefix = "%date:yyyy-MM-dd%/%date:hh.mm%_%date:hh.mm.ss%_%width%"
    graph = {
        "1": {"class_type": "SaveImage", "inputs": {"filename_prefix": prefix}},
        "2": {"class_type": "CozyGenOutput", "inputs": {"filename_prefix": "%date:yyyy%"}},  # not the editor's
        "3": {"class_type": "SaveImage", "inputs": {"filename_prefix": ["4", 0]}},  # linked
    }
    replace_dates(graph, NOW)
    # as the editor splits at dots: two parts read as a node reference (none: unchanged), three as the first
    assert graph["1"]["inputs"]["filename_prefix"] == "2026-03-04/%date:hh.mm%_05_%width%"
    assert graph["2"]["inputs"]["filename_prefix"] == "%date:yyyy%"
    assert graph["3"]["inputs"]["filename_prefix"] == ["4", 0]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("yyyy-MM-dd", "2026-03-04"), ("yy M d h m s", "26 3 4 5 6 7"), ("hhmmss", "050607"), ("yyy y", "yyy y")],
)
def test_the_editors_date_format(pattern: str, expected: str) -> None:
    assert format_date(pattern, NOW) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (True, "true"), (3, "3"), (2.0, "2"), (0.1, "0.1"), (1e-7, "1e-7"), (1e21, "1e+21"), ([1, 2], "1,2")],
)
def test_values_read_as_javascript_writes_them(value: Any, text: str) -> None:
    assert js_string(value) == text
