"""Wildcard files and their expansion: choices, nesting, seeds, the recursion guard and user overrides."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from support import PROJECT

from cozygen.core.errors import BadRequest
from cozygen.core.prompts import wildcards as wc

SHIPPED = PROJECT / "data" / "wildcards"


def cards(**lines: list[str]) -> dict[str, wc.Wildcard]:
    return {name: wc.Wildcard(name, tuple(values), wc.SHIPPED) for name, values in lines.items()}


def expand(text: str, wildcards: dict[str, wc.Wildcard] | None = None, seed: int = 1) -> str:
    return wc.Expander(wildcards or {}, random.Random(seed)).expand(text)


def test_choices_pick_one_option_and_nest() -> None:
    seen = {expand("a {red|green|blue} car", seed=s) for s in range(60)}
    assert seen == {"a red car", "a green car", "a blue car"}
    nested = {expand("{cat|{small|large} dog}", seed=s) for s in range(80)}
    assert nested == {"cat", "small dog", "large dog"}
    assert expand("{only}") == "only"
    assert expand("a {broken choice") == "a {broken choice"  # no closing brace: left as it is
    assert expand("}{") == "}{"


def test_wildcards_draw_lines_and_expand_what_they_hold() -> None:
    found = cards(animal=["a __color__ {cat|dog}"], color=["red", "blue"], hair_color=["auburn"])
    results = {expand("__animal__", found, seed=s) for s in range(60)}
    assert results == {"a red cat", "a red dog", "a blue cat", "a blue dog"}
    assert expand("__hair_color__ hair", found) == "auburn hair"
    assert expand("snake__case__ and __ alone", found) == "snake__case__ and __ alone"  # not a wildcard name


def test_a_wildcard_gives_every_line_before_repeating_one() -> None:
    found = cards(color=["red", "green", "blue"])
    for seed in range(20):
        drawn = expand("__color__ __color__ __color__", found, seed=seed).split()
        assert sorted(drawn) == ["blue", "green", "red"]


def test_the_same_seed_gives_the_same_prompt() -> None:
    library = wc.Library(SHIPPED).load()
    first = wc.random_prompt(library, seed=1234)
    assert first == wc.random_prompt(library, seed=1234)
    assert first["seed"] == 1234 and first["positive"] and first["negative"]
    others = {wc.random_prompt(library, seed=s)["positive"] for s in range(10)}
    assert len(others) > 5
    unseeded = wc.random_prompt(library)
    assert wc.random_prompt(library, seed=unseeded["seed"]) == unseeded
    assert "__" not in first["positive"] and "{" not in first["positive"] + first["negative"]


def test_recursion_is_stopped_with_the_chain_named() -> None:
    found = cards(a=["x __b__"], b=["y __a__"])
    with pytest.raises(BadRequest) as error:
        expand("__a__", found)
    assert error.value.code == "WILDCARD_RECURSION" and "__a__ > __b__" in error.value.message
    deep = cards(**{f"w{i}": [f"__w{i + 1}__"] for i in range(30)}, w30=["end"])
    with pytest.raises(BadRequest):
        expand("__w0__", deep)
    assert expand("__w15__", deep) == "end"  # 15 levels are fine


def test_exponential_templates_are_refused() -> None:
    found = cards(**{f"w{i}": [f"__w{i + 1}__ __w{i + 1}__"] for i in range(18)}, w18=["word"])
    with pytest.raises(BadRequest) as error:
        expand("__w0__", found)
    assert error.value.code == "WILDCARD_TOO_LARGE"


def test_unknown_and_empty_wildcards_are_clear_errors() -> None:
    found = cards(color=["red"], empty=[])
    with pytest.raises(BadRequest) as error:
        expand("a __colour__ car", found)
    assert error.value.code == "UNKNOWN_WILDCARD" and "__color__" in error.value.message
    assert error.value.to_dict()["wildcard"] == "colour"
    with pytest.raises(BadRequest) as error:
        expand("__empty__", found)
    assert error.value.code == "EMPTY_WILDCARD"


def test_tidy_removes_what_empty_options_leave() -> None:
    seen = {expand("a{| big} house ,{|}, red", seed=s) for s in range(30)}
    assert seen == {"a house, red", "a big house, red"}
    assert wc.tidy(" , a,  b ,, c , ") == "a, b, c"


def test_files_comments_subfolders_and_user_overrides(tmp_path: Path) -> None:
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    (shipped).mkdir()
    (user / "animals").mkdir(parents=True)
    (shipped / "color.txt").write_text("# palette\nred\n\n  green  \n")
    (shipped / "mood.txt").write_text("calm\n")
    (user / "color.txt").write_text("violet\n")
    (user / "animals" / "cats.txt").write_text("tabby\nsiamese\n")
    (user / "bad name!.txt").write_text("x\n")
    (tmp_path / "outside.txt").write_text("secret\n")
    (user / "escape.txt").symlink_to(tmp_path / "outside.txt")
    library = wc.Library(shipped, user)
    found = library.load()
    assert set(found) == {"color", "mood", "animals/cats"}
    assert found["color"].lines == ("violet",) and found["color"].source == wc.USER and found["color"].overrides
    assert found["mood"].source == wc.SHIPPED and not found["mood"].overrides
    assert wc.Library(shipped).load()["color"].lines == ("red", "green")
    assert expand("__animals/cats__", found, seed=3) in {"tabby", "siamese"}
    summary = found["animals/cats"].summary()
    assert summary == {
        "name": "animals/cats",
        "lines": 2,
        "source": "user",
        "overrides_shipped": False,
        "samples": ["tabby", "siamese"],
    }
    (user / "color.txt").write_text("violet\nindigo\n")  # a changed file is read again
    assert library.load()["color"].lines == ("violet", "indigo")


def test_shipped_wildcards_are_a_usable_set() -> None:
    found = wc.Library(SHIPPED).load()
    for name in ("subject", "style", "lighting", "color", "place", "mood", "descriptor", "negative"):
        assert len(found[name].lines) >= 20, name
    assert found["prompt"].lines and found["negative_prompt"].lines
    for name, card in found.items():  # every line expands: no unknown wildcard, no recursion
        for line in card.lines:
            assert expand(line, found), (name, line)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("42", 42), (7, 7), ("0", 0), (str(2**64 - 1), 2**64 - 1)],
)
def test_seeds_parse(value: object, expected: int | None) -> None:
    assert wc.parse_seed(value) == expected


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", 2**64, True, 3.0, [1]])
def test_bad_seeds_are_refused(value: object) -> None:
    with pytest.raises(BadRequest) as error:
        wc.parse_seed(value)
    assert error.value.code == "INVALID_SEED"


def test_templates_are_checked() -> None:
    found = cards(color=["red"])
    assert wc.random_prompt(found, seed=1, template="a __color__ ball", negative_template="")["negative"] == ""
    with pytest.raises(BadRequest) as error:
        wc.random_prompt(found, seed=1, template="x" * (wc.MAX_TEMPLATE + 1))
    assert error.value.code == "TEMPLATE_TOO_LONG"
