"""Plugin discovery: built-ins, the entry-point group (the contrib package), a plugins directory."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sentineld.config import ConfigError, load_config
from sentineld import hookimpl
from sentineld.plugin_manager import BUILTIN_PLUGINS


@pytest.fixture(scope="session")
def example_installed() -> None:
    """The contrib example package, installed as a user would (pip, entry point)."""
    try:
        importlib.metadata.distribution("sentineld-example")
    except importlib.metadata.PackageNotFoundError:
        contrib = Path(__file__).resolve().parents[1] / "contrib" / "sentineld-example"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", str(contrib)], check=True)
        importlib.invalidate_caches()


def plugins_json(cli, *args: str) -> list[dict]:
    result = cli("plugins", "--json", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_builtins_are_listed_first_with_what_they_register(cli) -> None:
    rows = plugins_json(cli, "-c", "/dev/null")
    builtin = [r for r in rows if r["origin"] == "builtin"]
    assert [r["module"] for r in builtin] == list(BUILTIN_PLUGINS)
    assert rows[: len(builtin)] == builtin
    by_name = {r["name"]: r for r in rows}
    assert by_name["jsonl"]["registers"] == ["source:jsonl"]
    assert by_name["volume_spike"]["version"]


def test_contrib_package_found_through_its_entry_point(example_installed, cli) -> None:
    rows = plugins_json(cli, "-c", "/dev/null")
    example = next(r for r in rows if r["name"] == "example")
    assert example["origin"] == "entry point"
    assert example["distribution"] == "sentineld-example" and example["version"] == "0.1.0"
    assert example["registers"] == ["scorer:shouting", "trigger:keyword"]


def test_contrib_components_work_inside_the_daemon(example_installed, cli, tmp_path: Path) -> None:
    config = tmp_path / "sentineld.toml"
    config.write_text(textwrap.dedent("""
        [watch]
        brand = ["acme"]
        [scorers.caps]
        type = "shouting"
        [triggers.legal]
        type = "keyword"
        keywords = ["refund"]
        min_count = 2
    """))
    lines = [
        {"id": f"t:{i}", "source": "test", "created_at": f"2026-11-24T09:0{i}:00Z",
         "text": "ACME I WANT A REFUND NOW"} for i in range(3)
    ]
    stream = tmp_path / "in.jsonl"
    stream.write_text("".join(json.dumps(line) + "\n" for line in lines))
    replayed = cli("replay", "--json", "-c", str(config), str(stream))
    assert replayed.returncode == 0, replayed.stderr
    alerts = [json.loads(line) for line in replayed.stdout.splitlines()]
    assert [(a["kind"], a["trigger"], a["subject"]) for a in alerts] == [("keyword", "legal", "brand")]
    scored = cli("score", "-c", str(config), str(stream))
    first = json.loads(scored.stdout.splitlines()[0])
    assert first["labels"]["shouting"] == "yes" and first["matches"] == ["brand"]


def test_plugins_directory_is_loaded_after_entry_points(cli, tmp_path: Path) -> None:
    plugins = tmp_path / "local-plugins"
    plugins.mkdir()
    (plugins / "pager.py").write_text(textwrap.dedent("""
        from sentineld import Notifier, hookimpl

        class Beeper(Notifier):
            type_name = "beeper"
            async def notify(self, notification):
                pass

        @hookimpl
        def register_notifiers(register):
            register(Beeper)
    """))
    config = tmp_path / "sentineld.toml"
    config.write_text('[sentineld]\nplugins_dir = "local-plugins"\n[notifiers.b]\ntype = "beeper"\n')
    rows = plugins_json(cli, "-c", str(config))
    assert rows[-1]["name"] == "pager" and rows[-1]["origin"] == "plugins directory"
    assert rows[-1]["registers"] == ["notifier:beeper"]
    assert cli("check", "-c", str(config)).returncode == 0


def test_sample_config_of_a_plugins_directory(cli, tmp_path: Path) -> None:
    """A lone module has no sample (it crashed `config --sample` with a traceback); a package
    in the directory ships its sample.toml."""
    plugins = tmp_path / "local-plugins"
    (plugins / "paging").mkdir(parents=True)
    beeper = textwrap.dedent("""
        from sentineld import Notifier, hookimpl

        class Beeper(Notifier):
            type_name = "{name}"
            async def notify(self, notification):
                pass

        @hookimpl
        def register_notifiers(register):
            register(Beeper)
    """)
    (plugins / "pager.py").write_text(beeper.format(name="beeper"))
    (plugins / "paging" / "__init__.py").write_text(beeper.format(name="siren"))
    (plugins / "paging" / "sample.toml").write_text('## A siren.\n[notifiers.s]\ntype = "siren"\n')
    config = tmp_path / "sentineld.toml"
    config.write_text('[sentineld]\nplugins_dir = "local-plugins"\n')
    lone = cli("config", "-c", str(config), "--sample", "beeper")
    assert lone.returncode == 1 and lone.stderr.strip() == "sentineld: notifier type 'beeper' ships no sample config"
    packaged = cli("config", "-c", str(config), "--sample", "siren")
    assert packaged.returncode == 0 and packaged.stdout == '## A siren.\n[notifiers.s]\ntype = "siren"\n'


def test_disable_plugins_blocks_by_name(tmp_path: Path) -> None:
    config = load_config(text='[sentineld]\ndisable_plugins = ["file"]\n')
    assert "file" not in config.registry.types["notifier"]
    with pytest.raises(ConfigError, match="unknown notifier type 'file'"):
        load_config(text='[sentineld]\ndisable_plugins = ["file"]\n[notifiers.x]\ntype = "file"\npath = "a"\n')


def _plugin_dir(tmp_path: Path, source: str) -> str:
    plugins = tmp_path / "p"
    plugins.mkdir()
    (plugins / "bad.py").write_text(textwrap.dedent(source))
    return f'[sentineld]\nplugins_dir = "{plugins}"\n'


def test_duplicate_type_name_is_an_error(tmp_path: Path) -> None:
    text = _plugin_dir(tmp_path, """
        from sentineld import Notifier, hookimpl
        class Other(Notifier):
            type_name = "console"
        @hookimpl
        def register_notifiers(register):
            register(Other)
    """)
    with pytest.raises(ConfigError, match="notifier type 'console' is registered twice: by 'console' and by 'bad'"):
        load_config(text=text)


def test_registering_the_wrong_kind_is_an_error(tmp_path: Path) -> None:
    text = _plugin_dir(tmp_path, """
        from sentineld import Scorer, hookimpl
        class NotANotifier(Scorer):
            type_name = "oops"
        @hookimpl
        def register_notifiers(register):
            register(NotANotifier)
    """)
    with pytest.raises(ConfigError, match="not a subclass of sentineld.Notifier"):
        load_config(text=text)


def test_an_option_named_like_a_host_key_is_refused(tmp_path: Path) -> None:
    text = _plugin_dir(tmp_path, """
        from sentineld import Options, Source, hookimpl
        class SlowOptions(Options):
            timeout: float = 3.0
        class Slow(Source):
            type_name = "slow"
            Options = SlowOptions
        @hookimpl
        def register_sources(register):
            register(Slow)
    """)
    with pytest.raises(ConfigError, match="Slow.Options declares timeout, which the host takes"):
        load_config(text=text)


def test_a_plugin_whose_option_check_raises_anything_is_a_config_problem(tmp_path: Path, cli) -> None:
    """msgspec reports a ValueError or TypeError from ``__post_init__``; anything else a plugin's
    check raises was a traceback out of `check`."""
    text = _plugin_dir(tmp_path, """
        from sentineld import Options, Source, hookimpl
        class PickyOptions(Options):
            region: str = "eu"
            def __post_init__(self):
                {"eu": 1, "us": 2}[self.region]
        class Picky(Source):
            type_name = "picky"
            Options = PickyOptions
        @hookimpl
        def register_sources(register):
            register(Picky)
    """) + '[sources.p]\ntype = "picky"\nregion = "mars"\n'
    with pytest.raises(ConfigError, match=r"sources\.p: PickyOptions refused these options: KeyError: 'mars'"):
        load_config(text=text)
    config = tmp_path / "sentineld.toml"
    config.write_text(text + 'reigon = "eu"\n')
    result = cli("check", "-c", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "sources.p.reigon: unknown key; did you mean 'region'?" in result.stderr


def test_misspelled_hook_is_caught(tmp_path: Path) -> None:
    text = _plugin_dir(tmp_path, """
        from sentineld import hookimpl
        @hookimpl
        def register_notifers(register):
            pass
    """)
    with pytest.raises(ConfigError, match="register_notifers"):
        load_config(text=text)


def test_plugin_that_fails_to_import_is_named(tmp_path: Path) -> None:
    text = _plugin_dir(tmp_path, "raise RuntimeError('broken at import')\n")
    with pytest.raises(ConfigError, match="bad.py failed to import: RuntimeError"):
        load_config(text=text)


async def test_observer_hooks_are_called(example_installed, sentineld_harness) -> None:
    """sentineld_startup, alert_raised, alert_resolved and sentineld_shutdown, in that order."""
    from sentineld import hookimpl
    from sentineld.testing import make_mention

    calls: list[str] = []

    class Observer:
        @hookimpl
        def sentineld_startup(self, config):
            calls.append(f"startup:{len(config.of_kind('trigger'))}")

        @hookimpl
        def alert_raised(self, alert):
            calls.append(f"raised:{alert.kind}")

        @hookimpl
        def alert_resolved(self, alert):
            calls.append(f"resolved:{alert.kind}")

        @hookimpl
        def sentineld_shutdown(self):
            calls.append("shutdown")

    import sentineld_example

    harness = sentineld_harness.with_plugins(sentineld_example, Observer())
    harness.configure(triggers={"k": {"type": "keyword", "keywords": ["refund"], "min_count": 1, "window": "5m"}})
    mentions = [make_mention("@acme refund"), make_mention("@acme ok", minutes=30)]
    result = await harness.replay(mentions)
    assert len(result.opened) == 1
    assert calls == ["startup:1", "raised:keyword", "resolved:keyword", "shutdown"]


class CountingSource:
    """A plugin whose source emits `count` mentions and then waits, resuming from its cursor."""

    from sentineld import Source as _Source

    class Counter(_Source):
        type_name = "counter"

        async def run(self, emit):
            import asyncio

            from sentineld.testing import make_mention

            start = int(self.cursor or 0)
            for n in range(start, start + 5):
                await emit([make_mention(f"@acme hello {n}", id=f"counter:{n}")], str(n + 1))
            await asyncio.Event().wait()

    @hookimpl
    def register_sources(self, register):
        register(self.Counter)


async def test_a_registered_source_runs_and_resumes_from_its_cursor(sentineld_harness) -> None:
    harness = sentineld_harness.with_plugins(CountingSource())
    harness.configure(sources={"count": {"type": "counter"}})
    first = await harness.run_source("count", until=5)
    assert [m.id for m in first] == [f"counter:{n}" for n in range(5)]
    second = await harness.run_source("count", until=10)
    assert [m.id for m in second] == [f"counter:{n}" for n in range(10)]


def test_a_registered_responder_is_configurable(tmp_path: Path) -> None:
    from sentineld import Draft, Responder

    class Thanks(Responder):
        type_name = "thanks"

        async def draft(self, alert, mentions):
            return [Draft(alert.id, m.id, m.source, "Thank you!") for m in mentions]

    class Plugin:
        @hookimpl
        def register_responders(self, register):
            register(Thanks)

    config = load_config(text='[responders.polite]\ntype = "thanks"\n', extra_plugins=(Plugin(),))
    assert config.components["responder"]["polite"].cls is Thanks
    assert "responder:thanks" in config.registry.plugins[-1].registers
