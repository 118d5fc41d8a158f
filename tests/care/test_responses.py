"""Templates rendered safely, the template responder's choices, and configuration errors."""

from __future__ import annotations

from typing import Any

import pytest

from sentineld.options import OptionsError, convert_options
from sentineld.responses import BUILTIN_TEMPLATES, ResponsesOptions, TemplateBook, draft_variables
from sentineld.testing import make_alert
from tests.care.helpers import bluesky, email

HOSTILE = "{{ 7*7 }} {% for x in range(3) %}again{% endfor %} <script>alert('pwned')</script> {{ ''.__class__ }}"


def book(**responses: Any) -> TemplateBook:
    return TemplateBook(convert_options(responses, ResponsesOptions, "responses"))


def test_a_mention_carrying_template_syntax_or_html_renders_inert() -> None:
    templates = book(templates={"echo": {"text": "You wrote: {{ text }}", "html": "<p>You wrote: {{ text }}</p>"}})
    mention = bluesky("did:plc:jo", "jo.bsky.social", HOSTILE)
    variables = draft_variables(make_alert("unanswered"), mention, "c-1")
    text = templates.render("echo", variables)
    assert text == f"You wrote: {HOSTILE}"  # printed as typed: nothing evaluated, nothing looped
    assert "49" not in text and "againagain" not in text
    html = templates.render("echo", variables, html=True)
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html and html.startswith("<p>") and html.endswith("</p>")


def test_author_names_are_data_too() -> None:
    templates = book()
    mention = bluesky("did:plc:x", "{{config}}.bsky.social", "@acme help")
    text = templates.render("acknowledge", draft_variables(None, mention, None))
    assert text.startswith("Hi @{{config}}.bsky.social, thanks for reaching out to us.")


def test_the_sandbox_refuses_python_internals_in_operator_templates() -> None:
    from jinja2.exceptions import SecurityError

    templates = book(templates={"evil": "{{ text.__class__.__mro__ }}"})
    with pytest.raises(SecurityError):
        templates.render("evil", {"text": "x"})


def test_builtin_templates_cover_the_situations_and_render_with_defaults() -> None:
    assert set(BUILTIN_TEMPLATES) == {"acknowledge", "apologise_private", "holding_statement", "follow_up"}
    templates = book(variables={"brand": "Acme Air", "dm_link": "https://acme.example/dm", "signature": " ^AB"})
    mention = email("jo@example.com", "my bag is lost", name="Jo Doe")
    variables = draft_variables(make_alert("unanswered"), mention, "c-1")
    assert templates.render("acknowledge", variables) == (
        "Hi Jo Doe, thanks for reaching out to Acme Air. We're looking into this now and will get "
        "back to you shortly. ^AB")
    assert "(https://acme.example/dm)" in templates.render("apologise_private", variables)
    statement = templates.render("holding_statement", draft_variables(make_alert("negativity_spike"), None, None))
    assert statement.startswith("We know some of our customers are having problems with our service.")


@pytest.mark.parametrize("templates, message", [
    ({"x": "Hello {{ customer_secret }}"}, "unknown variable"),
    ({"x": "Hello {{ author "}, "templates.x.text: line 1"),
    ({"x": {"text": "ok", "html": "{% if %}"}}, "templates.x.html"),
])
def test_broken_templates_are_configuration_errors(templates: dict, message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        convert_options({"templates": templates}, ResponsesOptions, "responses")


async def test_template_responder_replies_once_per_customer_and_states_for_crises(care) -> None:
    config = care.configure(responders={"drafts": {"type": "template", "max_replies": 2}}).config()
    from sentineld.supervisor import Guard

    guard = Guard(config.components["responder"]["drafts"], config)
    jo1 = bluesky("did:plc:jo", "jo.bsky.social", "@acme bag lost", minutes=0)
    jo2 = bluesky("did:plc:jo", "jo.bsky.social", "@acme still lost", minutes=5)
    al = bluesky("did:plc:al", "al.bsky.social", "@acme me too", minutes=3)
    bo = bluesky("did:plc:bo", "bo.bsky.social", "@acme and me", minutes=1)
    own = bluesky("did:plc:acme", "acme.bsky.social", "@jo.bsky.social sorry", minutes=6)
    alert = make_alert("unanswered", channel="bluesky", mentions=[m.id for m in (jo1, jo2, al, bo, own)])
    ok, drafts = await guard.call("draft", alert, [jo1, jo2, al, bo, own])
    assert ok
    assert [(d.mention_id, d.template, d.channel, d.text) for d in drafts] == [
        (jo2.id, "acknowledge", "bluesky", ""), (al.id, "acknowledge", "bluesky", "")]
    ok, statement = await guard.call("draft", make_alert("negativity_spike", channel="*"), [jo1])
    assert [(d.mention_id, d.template, d.channel) for d in statement] == [(None, "holding_statement", "*")]
    ok, nothing = await guard.call("draft", make_alert("competitor_surge"), [jo1])
    assert nothing == []
