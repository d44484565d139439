"""core.tags.index ranks by a blend: a far more used word-start match beats rare prefix matches (issue 16)."""

from __future__ import annotations

from cozygen.core.tags import index as tags
from cozygen.core.tags import lists as tag_lists


def build(rows: dict[str, tuple[int, str, list[str]]]) -> tags.TagIndex:
    return tags.TagIndex.build(tag_lists.Parsed.of(rows))


RARE_HAIR = {f"hair_{n:02d}": (100 + n, "general", []) for n in range(60)}
POPULAR = {"long_hair": (4_350_000, "general", []), "short_hair": (2_260_000, "general", [])}


def test_popular_word_starts_beat_sixty_rare_prefixes() -> None:
    index = build({**RARE_HAIR, **POPULAR})
    top = [hit.tag for hit in index.search("hair", limit=5).items]
    assert top[:2] == ["long_hair", "short_hair"]
    found = index.search("hair", limit=80)
    assert found.total == 62 and len({h.tag for h in found.items}) == 62


def test_an_exact_match_stays_first() -> None:
    index = build({**RARE_HAIR, **POPULAR, "hair": (3, "general", [])})
    found = index.search("hair", limit=5).items
    assert (found[0].tag, found[0].match) == ("hair", "prefix")
    assert {"long_hair", "short_hair"} <= {h.tag for h in found}
    assert [h.tag for h in index.search("hair", limit=2, offset=1).items] == ["long_hair", "short_hair"]


def test_a_prefix_wins_unless_the_word_start_is_far_more_used() -> None:
    index = build({"hair_bow": (500_000, "general", []), "long_hair": (1_000_000, "general", [])})
    assert [h.tag for h in index.search("hair").items] == ["hair_bow", "long_hair"]  # twice as used: not enough
    index = build({"hair_bow": (500_000, "general", []), "long_hair": (5_000_000, "general", [])})
    assert [h.tag for h in index.search("hair").items] == ["long_hair", "hair_bow"]


def test_aliases_rank_lower_and_alpha_keeps_the_kinds_in_order() -> None:
    index = build({"breasts": (3_400_000, "general", ["boobs"]), "boots": (400_000, "general", [])})
    assert [(h.tag, h.match) for h in index.search("boo").items] == [("boots", "prefix"), ("breasts", "alias")]
    rows = {**RARE_HAIR, **POPULAR}
    alpha = [h.tag for h in build(rows).search("hair", sort="alpha", limit=80).items]
    assert alpha == sorted(RARE_HAIR) + ["long_hair", "short_hair"]  # the seed's sort=alpha: by name, per kind
