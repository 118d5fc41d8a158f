"""bad input: the config loader given a component table of every built-in type (sources,
scorers, triggers, notifiers, responders), its real option names set to random values of any
TOML type (or to secrets that point nowhere), with unknown keys and host keys mixed in.

`tests/faults/test_bad_input.py` fuzzes the document's shape; this fuzzes each plugin's options.
The property: the config loads, or `ConfigError` lists problems that each say what is wrong and
where (the component's key path); never another exception.
"""

from __future__ import annotations

import os
import string
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sentineld.config import ConfigError, load_config
from sentineld.options import struct_keys
from tests.faults.fuzz_support import near

SECTIONS = {"source": "sources", "scorer": "scorers", "trigger": "triggers", "notifier": "notifiers",
            "responder": "responders"}
BUILTINS = sorted(
    (kind, type_name, component.cls)
    for kind, types in load_config(text="", entry_points=False).registry.types.items()
    for type_name, component in types.items()
)
EXAMPLES = int(os.environ.get("SENTINELD_FUZZ_EXAMPLES", "150"))

toml_scalars = (
    st.text(max_size=12) | st.integers(-(2**63), 2**63 - 1) | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["15m", "0s", "-1h", "1h30m", "0", "127.0.0.1:0", "0.0.0.0:99999", "http://", "",
                       "https://example.com/hook", "all", "watch", "acme", "/nonexistent/file", "INBOX",
                       "imaps", "tls", "none", "high", "ab" * 300])
)
secrets = st.sampled_from([
    {"env": "SENTINELD_FUZZ_SECRET"}, {"env": "SENTINELD_FUZZ_UNSET"}, {"file": "/nonexistent/secret"},
    {"credential": "nope"}, {"env": ""}, {"env": 1}, {"vault": "x"}, {},
])
values = st.recursive(
    toml_scalars | secrets,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=6), inner, max_size=3),
    max_leaves=6,
)


def sample_tables(cls: type) -> dict[str, Any]:
    """The plugin's own sample.toml with its commented-out defaults switched on: a real,
    complete component table to start from."""
    text = cls.sample_config() or ""
    switched_on = "\n".join(line[2:] if line.startswith("# ") else line for line in text.splitlines())
    for candidate in (switched_on, text):
        try:
            document = tomllib.loads(candidate)
        except tomllib.TOMLDecodeError:
            continue
        tables = [table for section in document.values() if isinstance(section, dict)
                  for table in section.values() if isinstance(table, dict) and "type" in table]
        if tables:
            return tables[0]
    return {}


def toml_safe(value: Any) -> Any:
    """What a TOML file can hold: no null (a nulled key is left out, a missing key is a case
    worth having too) and no lone surrogate (a file is UTF-8)."""
    if isinstance(value, dict):
        return {toml_safe(k): toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [toml_safe(v) for v in value if v is not None]
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode()
    return value


SAMPLES = {(kind, type_name): sample_tables(cls) for kind, type_name, cls in BUILTINS}


@st.composite
def component_tables(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    """Half the time the sample table bent field by field (near-valid); else the type's real
    option names set to random values."""
    kind, type_name, cls = draw(st.sampled_from(BUILTINS))
    sample = SAMPLES[(kind, type_name)]
    if sample and draw(st.booleans()):
        table = dict(toml_safe(draw(near(sample, max_changes=3))))
        table["type"] = type_name
        return kind, type_name, table
    names = list(struct_keys(cls.Options))
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names))) if names else []
    table: dict[str, Any] = {"type": type_name}
    for name in chosen:
        table[name] = draw(values)
    extras = draw(st.dictionaries(st.sampled_from(["enabled", "timeout", "tyep", "zz_unknown", "type"]),
                                  toml_scalars, max_size=2))
    table.update(extras)
    return kind, type_name, table


@pytest.fixture(scope="module", autouse=True)
def fuzz_secret() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SENTINELD_FUZZ_SECRET", "s3cret-value")
        for name in {v["env"] for table in SAMPLES.values() for v in table.values()
                     if isinstance(v, dict) and isinstance(v.get("env"), str)}:
            patch.setenv(name, "https://example.com/sample-secret")
        patch.delenv("SENTINELD_FUZZ_UNSET", raising=False)
        patch.delenv("CREDENTIALS_DIRECTORY", raising=False)
        yield


@settings(max_examples=EXAMPLES * 5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(component=component_tables(), watch=st.sampled_from([{}, {"brand": ["acme"], "accounts": ["acme"]}]))
def test_component_options_load_or_every_problem_explained(
    component: tuple[str, str, dict[str, Any]], watch: dict[str, Any]
) -> None:
    kind, type_name, table = component
    section = SECTIONS[kind]
    document = {"sentineld": {"state_dir": "/nonexistent/state"}, "watch": watch, section: {"it": table}}
    try:
        config = load_config(text=tomli_w.dumps(document), entry_points=False)
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.message.strip(), problem
            assert problem.path.startswith(f"{section}.it") or not problem.path.startswith(section), problem
        event(f"{kind}: refused")
    else:
        # What validates is built at start and on reload: it builds, or refuses with a ValueError
        # that the daemon reports ("a component cannot be built: …"); nothing else (a 512 GiB
        # allocation, an AttributeError).
        spec = config.components[kind]["it"]
        try:
            spec.build(config.context(spec, None))
        except ValueError as exc:
            assert str(exc).strip()
            event(f"{kind}: refused when built")
        else:
            event(f"{kind}: loaded")


@pytest.mark.parametrize(("kind", "type_name", "cls"), BUILTINS, ids=[f"{k}:{t}" for k, t, _ in BUILTINS])
def test_every_builtin_type_refuses_an_unknown_option_by_name(kind: str, type_name: str, cls: type) -> None:
    section = SECTIONS[kind]
    document = {section: {"it": {"type": type_name, "zz_unknown_option": 1}}}
    with pytest.raises(ConfigError) as caught:
        load_config(text=tomli_w.dumps(document), entry_points=False)
    assert any(p.path == f"{section}.it.zz_unknown_option" and "unknown key" in p.message
               for p in caught.value.problems), caught.value.problems
