"""api/params.py, the one parser of what a request says, and the JSON reader and error wrapper of api/responses.py."""

from __future__ import annotations

import asyncio
import datetime as dt

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from cozygen.api import params
from cozygen.api.responses import MAX_JSON_DEPTH, TooDeep, handler, loads_bounded, read_json
from cozygen.core.errors import BadRequest, NotFound, TooLarge
from cozygen.core.json_depth import nesting_exceeds, too_deep

DAY = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()


def query(text: str) -> web.Request:
    return make_mocked_request("GET", f"/x?{text}" if text else "/x")


def test_whole_numbers_stay_inside_sqlites_64_bits() -> None:
    assert params.whole_number("42", "n") == 42 and params.whole_number(" -7 ", "n") == -7
    assert params.whole_number(str(2**63 - 1), "n") == 2**63 - 1
    for bad in (str(2**63), str(-(2**63) - 1), "9" * 30, "9" * 5000, "4.5", "x", "", True, 1.0, None, [1]):
        with pytest.raises(BadRequest) as refused:
            params.whole_number(bad, "page")
        assert refused.value.code == "INVALID_PAGE"


def test_low_and_high_refuse_while_floor_and_ceiling_bring_into_range() -> None:
    with pytest.raises(BadRequest, match="from 1 to 200"):
        params.whole_number("500", "limit", low=1, high=200)
    assert params.whole_number("500", "limit", floor=1, ceiling=200) == 200
    assert params.whole_number("-3", "page", floor=1) == 1
    with pytest.raises(BadRequest):  # past 64 bits is refused even where values are brought into range
        params.whole_number("9" * 25, "per_page", floor=0, ceiling=500)


def test_integer_reads_the_query_with_a_default_and_its_own_code() -> None:
    assert params.integer(query(""), "limit", 20) == 20
    assert params.integer(query("limit="), "limit", None) is None
    assert params.integer(query("limit=5"), "limit", 20, low=1, high=200) == 5
    with pytest.raises(BadRequest) as refused:
        params.integer(query("before=" + "9" * 23), "before", None, code="INVALID_PAGING")
    assert refused.value.code == "INVALID_PAGING"


def test_paging_bounds_the_page_so_the_offset_fits() -> None:
    assert params.paging(query("page=0&per_page=9000"), "per_page", 20, size_floor=0, size_ceiling=500) == (1, 500)
    assert params.paging(query(""), "per_page", 20, size_floor=0) == (1, 20)
    for bad in (f"page={2**63 - 1}", f"page={params.MAX_PAGE + 1}", "page=x", "per_page=" + "9" * 30):
        with pytest.raises(BadRequest) as refused:
            params.paging(query(bad), "per_page", 20, size_floor=0, size_ceiling=500)
        assert refused.value.code == "BAD_PAGING"
    page, size = params.paging(query(f"page={params.MAX_PAGE}"), "per_page", 20, size_floor=0, size_ceiling=500)
    assert (page - 1) * size < 2**63


def test_path_ids_are_400_when_no_number_and_404_when_no_row_can_have_them() -> None:
    def image(raw: str, prefix: str = "") -> int:
        request = make_mocked_request("GET", "/x", match_info={"image_id": raw})
        return params.path_id(request, "image_id", what="image", missing_code="IMAGE_NOT_FOUND", prefix=prefix)

    assert image("12") == 12 and image("img_12", prefix="img_") == 12 and image("-1") == -1
    for bad in ("abc", "1.5", "", " 1", "%ff", "1" * 50):
        with pytest.raises(BadRequest) as refused:
            image(bad)
        assert refused.value.code == "INVALID_ID"
    with pytest.raises(NotFound) as missing:
        image("9" * 23)
    assert missing.value.code == "IMAGE_NOT_FOUND"


def test_timestamps_take_epoch_seconds_and_iso_dates_within_years_1_to_9999() -> None:
    assert params.parse_timestamp(None, "from") is None and params.parse_timestamp("  ", "from") is None
    assert params.parse_timestamp(str(DAY), "from") == DAY
    assert params.parse_timestamp("2026-01-01", "from") == DAY
    assert params.parse_timestamp("2026-01-01", "to", end=True) == DAY + 86_400
    assert params.parse_timestamp("2026-01-01T01:00:00Z", "from") == DAY + 3600
    assert params.parse_timestamp("2026-01-01T02:00:00+01:00", "from") == DAY + 3600
    last = params.parse_timestamp("9999-12-31", "to", end=True)  # the day after has no date, but has seconds
    assert last == dt.datetime(9999, 12, 31, tzinfo=dt.UTC).timestamp() + 86_400
    for bad in ("last tuesday", "10000-01-01", "nan", "inf", "-inf", "1e400", "1e300", "0001-01-01T00:00:00+01:00",
                "2026-02-30", "9" * 50):  # fmt: skip
        with pytest.raises(BadRequest) as refused:
            params.parse_timestamp(bad, "from")
        assert refused.value.code == "INVALID_DATE"


def test_query_strings_must_be_utf8() -> None:
    params.check_query_encoding(query("q=%C3%A9t%C3%A9&x=1"))
    params.check_query_encoding(query("q=plain"))
    for bad in ("q=%ff", "q=%ed%a0%80", "a=1&b=%C3"):
        with pytest.raises(BadRequest) as refused:
            params.check_query_encoding(query(bad))
        assert refused.value.code == "INVALID_ENCODING"


def test_body_fields_have_the_type_they_are_read_as() -> None:
    body = {"subfolder": " a/b ", "list": ["x"], "recursive": False, "n": 5}
    assert params.text_field(body, "subfolder", "") == "a/b" and params.text_field(body, "missing", "") == ""
    assert params.bool_field(body, "recursive", True) is False and params.bool_field(body, "missing", True) is True
    for name in ("list", "n", "recursive"):
        with pytest.raises(BadRequest, match="must be text") as refused:
            params.text_field(body, name, "")
        assert refused.value.code == f"INVALID_{name.upper()}"
    with pytest.raises(BadRequest, match="is required"):
        params.text_field(body, "missing")
    with pytest.raises(BadRequest, match="at most 3"):
        params.text_field({"name": "long"}, "name", max_length=3)
    with pytest.raises(BadRequest, match="true or false"):
        params.bool_field({"recursive": "yes"}, "recursive", True)


def test_json_is_refused_past_the_depth_limit_without_recursion() -> None:
    assert loads_bounded(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    assert loads_bounded(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    for deep in (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), b'{"a":' * 900 + b"1" + b"}" * 900):
        with pytest.raises(TooDeep):
            loads_bounded(deep)
    wide = orjson.dumps({str(n): {"inputs": {"x": [str(n), 0]}} for n in range(5000)})  # many brackets, shallow
    assert len(loads_bounded(wide)) == 5000
    assert not nesting_exceeds("text", 1) and nesting_exceeds([[1]], 1) and not nesting_exceeds([[1]], 2)
    assert too_deep("[[[1]]]", [[[1]]], 2) and not too_deep(b"[[[1]]]", [[[1]]], 3)


def test_png_text_nested_too_deep_or_past_64_bits_reads_as_unreadable() -> None:
    """A file's JSON (a PNG's prompt, which anyone can upload) must never break the reply that shows it."""
    from cozygen.core.graph import summary as prompt_summary

    graph = {"1": {"class_type": "KSampler", "inputs": {"seed": 5}}}
    assert prompt_summary.parse_prompt_text(orjson.dumps(graph).decode()) == graph
    deep = '{"1": {"class_type": "KSampler", "inputs": {"seed": ' + "[" * 300 + "]" * 300 + "}}}"
    assert prompt_summary.parse_prompt_text(deep) is None
    nan = prompt_summary.parse_prompt_text(
        '{"1": {"class_type": "K", "inputs": {"a": NaN, "s": 99999999999999999999999}}}'
    )
    assert nan is not None and nan["1"]["inputs"]["s"] == 1e23  # as orjson reads it: it can be written back
    orjson.dumps(nan)


def test_the_handler_answers_recursion_and_bad_query_encoding_with_a_400() -> None:
    async def recurse(_request: web.Request) -> web.Response:
        raise RecursionError("maximum recursion depth exceeded")

    async def fine(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    deep = asyncio.run(handler(recurse)(make_mocked_request("POST", "/cozygen/api/x")))
    assert deep.status == 400 and orjson.loads(deep.body)["code"] == "TOO_DEEP"
    latin = asyncio.run(handler(fine)(make_mocked_request("GET", "/cozygen/api/x?q=%e9")))
    assert latin.status == 400 and orjson.loads(latin.body)["code"] == "INVALID_ENCODING"
    assert asyncio.run(handler(fine)(make_mocked_request("GET", "/cozygen/api/x?q=%C3%A9"))).status == 200


def test_a_json_body_past_the_servers_size_limit_is_a_json_413() -> None:
    request = make_mocked_request("POST", "/x", headers={"Content-Type": "application/json"})

    async def oversized() -> bytes:
        raise web.HTTPRequestEntityTooLarge(max_size=8, actual_size=9)

    request.read = oversized  # type: ignore[method-assign]
    with pytest.raises(TooLarge):
        asyncio.run(read_json(request))
