"""Every route CozyGen registers is in api/openapi.yaml, and every path there is registered."""

from __future__ import annotations

import yaml
from aiohttp import web
from support import PROJECT

from cozygen.api import register
from cozygen.api.host import ComfyUIHost
from cozygen.api.state import CozyGenState

METHODS = {"get", "post", "put", "patch", "delete"}


def spec_operations() -> set[tuple[str, str]]:
    spec = yaml.safe_load((PROJECT / "api" / "openapi.yaml").read_text())
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item if method in METHODS}


def test_registered_routes_and_spec_agree() -> None:
    routes = register(web.RouteTableDef(), CozyGenState(ComfyUIHost()))
    registered = set(routes.registered)
    assert registered - spec_operations() == set(), "routes missing from api/openapi.yaml"
    assert spec_operations() - registered == set(), "api/openapi.yaml documents routes that do not exist"


def test_every_operation_documents_an_id_and_a_response() -> None:
    spec = yaml.safe_load((PROJECT / "api" / "openapi.yaml").read_text())
    ids = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue  # path-level "parameters"
            assert operation.get("operationId"), f"{method} {path} has no operationId"
            assert operation.get("responses"), f"{method} {path} documents no response"
            ids.append(operation["operationId"])
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_the_spec_states_each_routes_access_level() -> None:
    routes = register(web.RouteTableDef(), CozyGenState(ComfyUIHost()))
    spec = yaml.safe_load((PROJECT / "api" / "openapi.yaml").read_text())
    documented = {
        (m.upper(), p): op.get("x-access")
        for p, item in spec["paths"].items()
        for m, op in item.items()
        if m in METHODS
    }
    assert documented == routes.access
