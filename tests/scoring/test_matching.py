"""What a mention is about: handles, hashtags, cashtags, words, excludes, case, boundaries, and
text in other languages."""

from __future__ import annotations

import pytest

from sentineld.config import ConfigError, load_config
from sentineld.model import Author
from sentineld.testing import make_mention
from sentineld.watch import Matcher, WatchConfig


def about(text: str, **watch: object) -> list[str]:
    return Matcher(WatchConfig(**watch)).match(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@acme lost my bag", ["brand"]),
        ("thanks @acme.", ["brand"]),
        ("@acme_fans are the best", []),  # another handle
        ("@acme.bsky.social replied", []),  # another handle, written with dots
        ("mail me at jo@acme", []),  # an address, not a handle
        ("acme lost my bag", []),  # the word, not the handle
    ],
)
def test_a_handle_term_matches_only_that_handle(text: str, expected: list[str]) -> None:
    assert about(text, brand=["@acme"]) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("never again #acmefail", ["brand"]),
        ("#AcmeFail trending", ["brand"]),
        ("#acmefailures", []),
        ("acmefail", []),
    ],
)
def test_a_hashtag_term_matches_the_whole_hashtag(text: str, expected: list[str]) -> None:
    assert about(text, brand=["#acmefail"]) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("$ACME up 4% today", ["brand"]), ("$acme", ["brand"]), ("$ACMEX", []), ("ACME", [])],
)
def test_a_cashtag_term_matches_only_the_cashtag(text: str, expected: list[str]) -> None:
    assert about(text, brand=["$ACME"]) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Acme lost my bag", ["brand"]),
        ("ACME!!!", ["brand"]),
        ("@acme and #acme and $acme", ["brand"]),
        ("acme's lounge", ["brand"]),
        ("acme-air merger", ["brand"]),
        ("acmes", []),
        ("pacme", []),
        ("acme_air", []),
        ("", []),
    ],
)
def test_a_bare_word_matches_on_word_boundaries_in_any_case(text: str, expected: list[str]) -> None:
    assert about(text, brand=["acme"]) == expected


def test_a_phrase_matches_across_any_white_space() -> None:
    assert about("Acme\n  Air cancelled", brand=["acme air"]) == ["brand"]
    assert about("acmeair cancelled", brand=["acme air"]) == []


def test_an_exclude_blanks_only_its_own_span() -> None:
    watch = {"brand": ["american"], "exclude": ["american idol"]}
    assert about("watching American Idol tonight", **watch) == []
    assert about("flying American to go watch American Idol", **watch) == ["brand"]
    assert about("AMERICAN IDOL finale", **watch) == []


def test_a_subject_exclude_applies_to_that_subject_only() -> None:
    watch = {
        "brand": ["delta"],
        "topics": {"rivers": ["delta"]},
        "subject_exclude": {"brand": ["mekong delta", "delta variant"]},
    }
    assert about("cruising the Mekong Delta", **watch) == ["topic:rivers"]
    assert about("Delta lost my bag in the Mekong delta", **watch) == ["brand", "topic:rivers"]


def test_a_subject_exclude_naming_an_unknown_subject_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as error:
        load_config(text='[watch]\nbrand = ["acme"]\nsubject_exclude = { "competitor:nope" = ["x"] }\n')
    assert "unknown subject 'competitor:nope'" in str(error.value)
    assert "brand" in str(error.value)


def test_competitors_and_topics_are_separate_subjects() -> None:
    watch = {"brand": ["acme"], "competitors": {"rival": ["rivaljet", "@rivaljet"]}, "topics": {"bags": ["luggage"]}}
    assert about("acme lost my luggage, flying @RivalJet next time", **watch) == [
        "brand", "competitor:rival", "topic:bags",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("アクメ航空の便が三時間遅れた", ["brand"]),  # no spaces between Japanese words
        ("@acmeの対応が最悪", ["brand"]),  # a handle followed by a particle
        ("今日はacmeで出張", ["brand"]),  # a Latin word inside Japanese
        ("ＡＣＭＥのラウンジ", ["brand"]),  # full-width letters (NFKC)
        ("ｱｸﾒ航空", ["brand"]),  # half-width katakana (NFKC)
        ("アクメ", ["brand"]),
        ("航空券", []),
    ],
)
def test_japanese_text_matches_without_word_spaces(text: str, expected: list[str]) -> None:
    assert about(text, brand=["acme", "@acme", "アクメ"]) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Lufthansa-Streik: alle Flüge gestrichen", ["brand"]),
        ("LUFTHANSA streikt schon wieder", ["brand"]),
        ("Die Lufthansagruppe meldet Gewinne", []),  # a compound is another word
        ("Ärger mit der Müller-Brot Lieferung", ["competitor:müller"]),
        ("MÜLLER liefert nicht", ["competitor:müller"]),
        ("Die Straße ist gesperrt", ["topic:roads"]),
        ("STRASSE gesperrt", ["topic:roads"]),  # ß folds to ss
    ],
)
def test_german_text_keeps_umlauts_case_and_compounds(text: str, expected: list[str]) -> None:
    watch = {"brand": ["lufthansa"], "competitors": {"müller": ["Müller"]}, "topics": {"roads": ["straße"]}}
    assert about(text, **watch) == expected


def test_non_english_text_is_left_unchanged_on_the_mention() -> None:
    mention = make_mention("アクメ航空の便が遅れた ＡＣＭＥ")
    Matcher(WatchConfig(brand=["アクメ"])).apply([mention])
    assert mention.text == "アクメ航空の便が遅れた ＡＣＭＥ"
    assert mention.matches == ["brand"]


def test_watchlisted_authors_are_labelled_by_handle_id_or_author_key() -> None:
    matcher = Matcher(WatchConfig(brand=["acme"], watchlist=["@Jo.bsky.social", "did:plc:kim", "mastodon:42"]))
    jo = make_mention("nothing about us", author=Author(id="did:plc:jo", handle="jo.bsky.social"))
    kim = make_mention("acme again", author=Author(id="did:plc:kim", handle="kim.example"))
    by_key = make_mention("acme", source="mastodon", author=Author(id="42", handle="someone"))
    other = make_mention("acme", author=Author(id="did:plc:al", handle="al.example"))
    nobody = make_mention("acme", author=None)
    matcher.apply([jo, kim, by_key, other, nobody])
    assert [m.labels.get("watchlist") for m in (jo, kim, by_key, other, nobody)] == ["yes", "yes", "yes", None, None]
    assert jo.matches == []  # watched whatever it is about


def test_own_accounts_are_recognised_by_handle() -> None:
    matcher = Matcher(WatchConfig(brand=["acme"], accounts=["@AcmeAir"]))
    assert matcher.is_own_account(make_mention("hi", author=Author(id="1", handle="acmeair")))
    assert not matcher.is_own_account(make_mention("hi", author=Author(id="2", handle="acmeair_fan")))
