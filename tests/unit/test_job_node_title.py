"""core.jobs.model: a job's progress names the running node by its title in the graph, else its class."""

from __future__ import annotations

from cozygen.core.jobs.model import Job

GRAPH = {
    "3": {"class_type": "KSampler", "inputs": {}, "_meta": {"title": "  Sampler (fast)  "}},
    "5": {"class_type": "CozyGenProceduralImage", "inputs": {}},
    "7": {"class_type": "VAEDecode", "inputs": {}, "_meta": {"title": ""}},
}


def job(node: str | None, graph=GRAPH) -> Job:
    return Job(id="j", prompt_id="p", workflow="w.json", username=None, node=node, graph=graph)


def test_the_title_then_the_class() -> None:
    assert job("3").node_title == "Sampler (fast)"
    assert job("5").node_title == "CozyGenProceduralImage"
    assert job("7").node_title == "VAEDecode"  # an empty title is no title
    assert job("3").to_dict()["node_title"] == "Sampler (fast)"


def test_no_title_without_a_node_or_a_graph() -> None:
    assert job(None).node_title is None and job(None).to_dict()["node_title"] is None
    assert job("99").node_title is None  # a node the graph does not have
    assert job("3", graph=None).node_title is None  # a job read back without its graph
    long = {"1": {"class_type": "X", "_meta": {"title": "t" * 500}}}
    assert len(job("1", graph=long).node_title or "") == 120
