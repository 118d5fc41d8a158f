"""The sentiment scorer's behaviour: what a text scores and how it is labelled."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentineld.components import ComponentContext
from sentineld.options import OptionsError
from sentineld.testing import make_mention
from sentineld.watch import WatchConfig
from sentineld_plugins.scorers import sentiment
from sentineld_plugins.scorers.sentiment import (
    SentimentOptions,
    SentimentScorer,
    label_for,
)

LIBRARY = SentimentIntensityAnalyzer()


def scorer(watch: WatchConfig | None = None, **options: object) -> SentimentScorer:
    context = ComponentContext(
        id="mood", kind="scorer", watch=watch or WatchConfig(), state_dir=Path(".")
    )
    return SentimentScorer(SentimentOptions(**options), context)  # type: ignore[arg-type]


async def score(text: str, **options: object) -> float:
    mention = make_mention(text)
    await scorer(**options).score([mention])
    return mention.scores["sentiment"]


async def label(text: str, **options: object) -> str:
    mention = make_mention(text)
    await scorer(**options).score([mention])
    return mention.labels["sentiment"]


# ----------------------------------------------------------------------------- negation


@pytest.mark.parametrize(
    "text",
    ["not good", "the service was not good", "it isn't good", "I don't like it", "I don’t like it"],
)
async def test_negation_makes_positive_words_negative(text: str) -> None:
    assert await score(text) < 0
    assert await label(text) == "negative"


async def test_negated_negative_is_not_negative() -> None:
    assert await score("not bad at all") > 0


# ----------------------------------------------------------------------------- emoji


@pytest.mark.parametrize("text", ["😡", "flight delayed again 😡", "😠", "👎", "💔"])
async def test_negative_emoji(text: str) -> None:
    assert await label(text) == "negative"


@pytest.mark.parametrize("text", ["😍", "new seats 😍", "I ❤️ this crew", "👍🏽", "thanks 🙏"])
async def test_positive_emoji(text: str) -> None:
    assert await label(text) == "positive"


async def test_pouting_face_is_negative_where_vadersentiment_reads_it_as_neutral() -> None:
    assert LIBRARY.polarity_scores("😡")["compound"] == 0.0
    assert await score("😡") < -0.05


async def test_emoji_glued_to_words_still_counts() -> None:
    assert await score("delayed😡") < await score("delayed")
    assert await score("great😍") > await score("great")


# ----------------------------------------------------------------------------- emphasis


async def test_capitals_intensify() -> None:
    assert await score("the crew was GREAT today") > await score("the crew was great today") > 0
    assert await score("the food was AWFUL today") < await score("the food was awful today") < 0


async def test_elongated_word_is_read_and_intensified() -> None:
    assert LIBRARY.polarity_scores("goooood")["compound"] == 0.0
    assert await score("goooood") > await score("good") > 0
    assert await score("baaaad service") < await score("bad service") < 0


async def test_elongated_booster_boosts() -> None:
    assert await score("sooooo good") > await score("so good") > await score("good")


async def test_exclamation_marks_intensify() -> None:
    assert await score("good!!!") > await score("good") > 0


# ----------------------------------------------------------------------------- handles, URLs


@pytest.mark.parametrize("handle", ["@united", "@HappyToHelp", "@love"])
async def test_handles_do_not_change_polarity(handle: str) -> None:
    assert await score(f"{handle} flight boarding now") == 0.0
    assert await score(f"{handle} great flight") == await score("great flight")
    assert await score(f"terrible flight {handle}") == await score("terrible flight")


async def test_vadersentiment_reads_a_handle_as_a_word() -> None:
    """Why the rule exists: a brand's handle must not colour every mention of it."""
    assert LIBRARY.polarity_scores("@united flight boarding now")["compound"] > 0.3


@pytest.mark.parametrize(
    "url", ["https://t.co/abc?x=1?y=2", "http://example.com/great-love-happy", "www.best.com"]
)
async def test_urls_do_not_change_polarity(url: str) -> None:
    assert await score(f"what a terrible delay {url}") == await score("what a terrible delay")
    assert await score(f"check this {url}") == 0.0


async def test_camel_case_hashtag_is_read_as_words() -> None:
    assert await score("#WorstAirlineEver") < 0
    assert await score("#fail") < 0


async def test_like_counts_only_as_a_verb() -> None:
    assert await score("I like the new app") > 0
    assert await score("looks like rain in Boston") == 0.0
    assert await score("I don't like the new app") < 0


# ----------------------------------------------------------------------------- watched names


async def test_watched_brand_name_carries_no_sentiment() -> None:
    watch = WatchConfig(brand=["United", "@united"], competitors={"bb": ["Best Buy"]})
    on = scorer(watch)
    off = scorer(watch, neutral_watch_terms=False)
    texts = ["United lost my bag", "Best Buy delivered it"]
    mentions_on = [make_mention(t) for t in texts]
    mentions_off = [make_mention(t) for t in texts]
    await on.score(mentions_on)
    await off.score(mentions_off)
    assert mentions_on[0].scores["sentiment"] == await score("lost my bag") < 0
    assert mentions_off[0].scores["sentiment"] > mentions_on[0].scores["sentiment"]
    assert mentions_on[1].scores["sentiment"] == 0.0
    assert mentions_off[1].scores["sentiment"] > 0.5


async def test_neutral_terms_option() -> None:
    assert await score("Joy Airlines cancelled my flight") > await score("cancelled my flight")
    assert await score("Joy Airlines cancelled my flight", neutral_terms=["Joy Airlines"]) == (
        await score("cancelled my flight")
    )


async def test_watched_names_neutral_only_as_whole_words() -> None:
    watch = WatchConfig(brand=["joy"])
    mention = make_mention("joyful trip")
    await scorer(watch).score([mention])
    assert mention.scores["sentiment"] == await score("joyful trip") > 0


# ----------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-0.0501, "negative"),
        (-0.05, "neutral"),
        (0.0, "neutral"),
        (0.05, "neutral"),
        (0.0501, "positive"),
        (-1.0, "negative"),
        (1.0, "positive"),
    ],
)
def test_labels_at_the_default_thresholds(value: float, expected: str) -> None:
    options = SentimentOptions()
    assert label_for(value, options.negative_below, options.positive_above) == expected


async def test_scorer_labels_with_configured_thresholds() -> None:
    text = "the flight was okay"  # "okay" alone scores about +0.23
    value = await score(text)
    assert 0.1 < value < 0.5
    assert await label(text) == "positive"
    assert await label(text, negative_below=-0.5, positive_above=0.5) == "neutral"
    assert await label(text, positive_above=value) == "neutral"


async def test_scores_are_in_range_and_labels_known_on_extreme_text() -> None:
    texts = [
        "",
        "   ",
        "GREAT GREAT GREAT!!!!! LOVE LOVE LOVE 😍😍😍😍 BEST EVER",
        "worst worst worst horrible awful hate hate!!!! 😡😡😡😡",
        "😂" * 200,
        "no" * 500,
    ]
    mentions = [make_mention(text) for text in texts]
    await scorer().score(mentions)
    for mention in mentions:
        assert -1.0 <= mention.scores["sentiment"] <= 1.0
        assert mention.labels["sentiment"] in {"negative", "neutral", "positive"}
    assert mentions[0].scores["sentiment"] == 0.0
    assert mentions[2].scores["sentiment"] > 0.95
    assert mentions[3].scores["sentiment"] < -0.95


# ----------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("table", "complaint"),
    [
        ({"negative_below": 0.3, "positive_above": 0.1}, "must not be greater"),
        ({"positive_above": 1.5}, "within [-1, 1]"),
        ({"engine": "bert"}, "engine"),
        ({"treshold": 0.1}, "unknown key"),
    ],
)
async def test_bad_options_are_refused_with_the_reason(
    sentineld_harness, table: dict, complaint: str
) -> None:
    sentineld_harness.configure(scorers={"mood": {"type": "sentiment", **table}})
    with pytest.raises(OptionsError, match=None) as caught:
        sentineld_harness.config()
    assert complaint in str(caught.value)
    assert "scorers.mood" in str(caught.value)


async def test_scorer_runs_in_the_core_with_the_watch_section(sentineld_harness) -> None:
    sentineld_harness.configure(
        watch={"brand": ["acme", "@acme"]}, scorers={"mood": {"type": "sentiment"}}
    )
    scored = await sentineld_harness.score(
        [make_mention("@acme lost my bag again 😡"), make_mention("acme crew were lovely 😍")]
    )
    assert [m.labels["sentiment"] for m in scored] == ["negative", "positive"]
    assert scored[0].matches == ["brand"]


@pytest.mark.parametrize("engine", ["social", "vader", "vadersentiment"])
async def test_every_engine_scores(engine: str) -> None:
    assert await score("the crew was wonderful", engine=engine) > 0.5
    assert await score("the crew was rude", engine=engine) < -0.3


def test_sample_config_shows_every_option_with_its_default() -> None:
    sample = SentimentScorer.sample_config()
    assert sample is not None
    parsed = tomllib.loads(sample)
    assert parsed == {"scorers": {"mood": {"type": "sentiment"}}}
    commented = {}
    for line in sample.splitlines():
        if line.startswith("# ") and " = " in line:
            key, _, value = line[2:].partition(" = ")
            commented[key] = tomllib.loads(f"v = {value}")["v"]
    defaults = SentimentOptions()
    assert set(commented) == set(SentimentOptions.__struct_fields__)
    for key, value in commented.items():
        assert getattr(defaults, key) == value, key


def test_plugin_module_does_not_import_the_engine() -> None:
    """`sentineld check` imports every built-in: the lexicons load only when a scorer is built."""
    source = Path(sentiment.__file__).read_text()
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not any("engine" in line or "vaderSentiment" in line for line in top_level)
