"""`sentineld check` builds every enabled component (never starts one) and reports what a
constructor refuses with the component's key path; it loads no library that only running needs."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Callable
from pathlib import Path

import tomli_w

from sentineld.cli.check import build_problems
from sentineld.config import load_config
from sentineld.plugin_manager import BUILTIN_PLUGINS

REPO = Path(__file__).resolve().parents[2]

#: A scorer plugin that writes down when it is built and when it is started, and refuses to be
#: built when its `refuse` option is set: the way a plugin's constructor may refuse options.
PROBE_PLUGIN = '''
from pathlib import Path

from sentineld import Options, Scorer, hookimpl


class ProbeOptions(Options):
    journal: str
    refuse: str = ""


class ProbeScorer(Scorer):
    type_name = "probe"
    Options = ProbeOptions

    def __init__(self, options, context):
        super().__init__(options, context)
        if options.refuse:
            raise RuntimeError(options.refuse)
        with Path(options.journal).open("a") as journal:
            journal.write(f"built {context.id}\\n")

    async def start(self):
        with Path(self.options.journal).open("a") as journal:
            journal.write(f"started {self.id}\\n")

    async def score(self, mentions):
        pass


@hookimpl
def register_scorers(register):
    register(ProbeScorer)
'''


def write_probe_config(folder: Path, scorers: str) -> Path:
    (folder / "plugins").mkdir()
    (folder / "plugins" / "probe.py").write_text(PROBE_PLUGIN)
    path = folder / "sentineld.toml"
    path.write_text('[sentineld]\nplugins_dir = "plugins"\n\n[watch]\nbrand = ["acme"]\n\n'
                    + textwrap.dedent(scorers))
    return path


def test_option_only_the_constructor_refuses_fails_check(tmp_path: Path, cli) -> None:
    """The probe's options are valid; its constructor refuses them, as `run` would see."""
    path = write_probe_config(tmp_path, """
        [scorers.probe]
        type = "probe"
        journal = "unused"
        refuse = "model file models/en.bin is missing"
    """)
    result = cli("check", "-c", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"{path}: scorers.probe: the probe scorer cannot be built: "
        "RuntimeError: model file models/en.bin is missing\n"
    )
    # Validating the file alone cannot see it: that is what building adds.
    quick = cli("check", "-c", str(path), "--no-build", cwd=tmp_path)
    assert quick.returncode == 0, quick.stderr
    assert quick.stdout == (
        f"{path}: options valid, components not built "
        "(0 sources, 1 scorers, 0 triggers, 0 notifiers, 0 responders)\n"
    )


def test_virality_threshold_one_fails_check(tmp_path: Path, cli) -> None:
    """threshold = 1 leaves MinHash LSH a single band, which the scorer cannot use: `run` fails
    to build it, so `check` must fail too (at the options or while building)."""
    path = tmp_path / "sentineld.toml"
    path.write_text('[watch]\nbrand = ["acme"]\n\n[scorers.spread]\ntype = "virality"\nthreshold = 1\n')
    result = cli("check", "-c", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}: scorers.spread"), result.stderr


def test_every_constructor_failure_is_reported_once_with_its_id(tmp_path: Path, cli) -> None:
    path = write_probe_config(tmp_path, f"""
        [scorers.good]
        type = "probe"
        journal = "{tmp_path / 'journal'}"

        [scorers.no_model]
        type = "probe"
        journal = "unused"
        refuse = "model file models/en.bin is missing"

        [scorers.no_key]
        type = "probe"
        journal = "unused"
        refuse = "api_key is empty"

        [scorers.parked]
        type = "probe"
        enabled = false
        journal = "unused"
        refuse = "would fail, but run does not build a disabled component"
    """)
    result = cli("check", "-c", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}: scorers.no_model: the probe scorer cannot be built: "
        "RuntimeError: model file models/en.bin is missing",
        f"{path}: scorers.no_key: the probe scorer cannot be built: RuntimeError: api_key is empty",
    ]
    assert (tmp_path / "journal").read_text() == "built good\n"


def test_check_builds_but_never_starts(tmp_path: Path, cli) -> None:
    """Built (the constructor ran), not started: no port bound, no file or folder created."""
    journal = tmp_path / "journal"
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    path = write_probe_config(tmp_path, f"""
        [scorers.probe]
        type = "probe"
        journal = "{journal}"

        [sources.crm]
        type = "webhook"
        listen = "127.0.0.1:{port}"
        token = {{ env = "CHECK_TEST_TOKEN" }}

        [notifiers.log]
        type = "file"
        path = "{tmp_path / 'out' / 'alerts.jsonl'}"
    """)
    try:
        result = cli("check", "-c", str(path), cwd=tmp_path, env={"CHECK_TEST_TOKEN": "t0ken"})
    finally:
        taken.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{path}: ok (1 sources, 1 scorers, 0 triggers, 1 notifiers, 0 responders)\n"
    assert journal.read_text() == "built probe\n"
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal", "plugins", "sentineld.toml"]


def test_samples_of_every_builtin_type_build(tmp_path: Path, monkeypatch) -> None:
    """Each built-in type's own sample.toml builds: a constructor accepts its documented example."""
    config = load_config(text="")
    builtin = {info.name for info in config.registry.plugins if info.origin == "builtin"}
    checked = 0
    for types in config.registry.types.values():
        for ctype in types.values():
            if ctype.plugin not in builtin:
                continue
            sample = ctype.cls.sample_config()
            assert sample is not None
            _secrets_from_env(sample, monkeypatch.setenv)
            path = tmp_path / f"{ctype.type_name}.toml"
            path.write_text('[watch]\nbrand = ["acme"]\n\n' + sample)
            assert build_problems(load_config(path)) == [], ctype.type_name
            checked += 1
    assert checked >= len(BUILTIN_PLUGINS)


CHECK_AND_LIST_MODULES = """
import sys
from sentineld.cli import main
code = main(sys.argv[1:])
print(code, " ".join(sorted(sys.modules)), file=sys.stderr)
"""

#: Libraries only running needs: networking, logging, retries, checkpoint encoding, templates.
NOT_FOR_CHECKING = ("aiohttp", "structlog", "tenacity", "msgpack", "jinja2", "feedparser",
                    "imapclient", "tqdm")


def loaded_modules(tmp_path: Path, cli_args: list[str], env: dict[str, str]) -> set[str]:
    result = subprocess.run([sys.executable, "-c", CHECK_AND_LIST_MODULES, *cli_args],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    code, modules = result.stderr.strip().splitlines()[-1].split(" ", 1)
    assert code == "0", result.stderr
    return set(modules.split())


def libraries(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_check_loads_no_library_that_only_running_needs(tmp_path: Path) -> None:
    """Every built-in type configured at once (its sample), then checked and built."""
    env = {k: v for k, v in os.environ.items() if k != "SENTINELD_CONFIG"}
    merged: dict[str, dict[str, object]] = {"watch": {"brand": ["acme"]}}
    for sample in sorted(REPO.glob("plugins/*/*/sample.toml")):
        text = sample.read_text()
        _secrets_from_env(text, env.__setitem__)
        for section, tables in tomllib.loads(text).items():
            for cid, table in tables.items():
                assert cid not in merged.setdefault(section, {}), f"{section}.{cid} twice"
                merged[section][cid] = table
    path = tmp_path / "everything.toml"
    path.write_bytes(tomli_w.dumps(merged).encode())
    counts = {section: len(tables) for section, tables in merged.items() if section != "watch"}
    assert sum(counts.values()) >= len(BUILTIN_PLUGINS)

    quick = loaded_modules(tmp_path, ["check", "-c", str(path), "--no-build"], env)
    assert not libraries(quick).intersection(NOT_FOR_CHECKING + ("numpy", "datasketch", "vaderSentiment"))
    # Nor the other commands' modules: the CLI imports only the one it runs.
    assert {name for name in quick if name.startswith("sentineld.cli.")} == {
        "sentineld.cli.check", "sentineld.cli.common"}
    built = loaded_modules(tmp_path, ["check", "-c", str(path)], env)
    assert not libraries(built).intersection(NOT_FOR_CHECKING)


def _secrets_from_env(sample: str, setenv: Callable[[str, str], None]) -> None:
    """Give every secret a sample reads from the environment a value shaped like a URL."""
    for name in re.findall(r'\benv\s*=\s*"([^"]+)"', sample):
        setenv(name, "https://placeholder.invalid/secret")
