"""Config: typed validation, errors naming file + key path + expectation, secrets, check/init."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sentineld.config import ConfigError, load_config
from sentineld.options import Duration, Secret, parse_duration

BASE = """
[sentineld]
state_dir = "state"

[watch]
brand = ["acme"]

[triggers.anger]
type = "volume_spike"
window = "15m"
"""


def problems(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value).splitlines()


def test_valid_config_is_typed(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(BASE)
    config = load_config(path)
    spec = config.components["trigger"]["anger"]
    assert spec.type_name == "volume_spike"
    assert isinstance(spec.options.window, Duration) and spec.options.window == 900
    assert config.state_dir == tmp_path / "state"
    assert config.watch.brand == ["acme"]


def test_misspelled_key_names_path_and_suggests(tmp_path: Path) -> None:
    lines = problems(BASE.replace('window = "15m"', 'windw = "15m"'), tmp_path)
    assert lines == [f"{tmp_path / 'bad.toml'}: triggers.anger.windw: unknown key; did you mean 'window'?"]


def test_unknown_section_and_type_suggest(tmp_path: Path) -> None:
    text = BASE.replace("[watch]", "[wach]").replace('"volume_spike"', '"volume_spik"')
    lines = problems(text, tmp_path)
    assert any("wach: unknown section; did you mean 'watch'?" in line for line in lines)
    assert any("triggers.anger.type: unknown trigger type 'volume_spik'; did you mean 'volume_spike'?" in line
               for line in lines)


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    text = BASE.replace('"15m"', '"fifteen minutes"') + '\n[notifiers.x]\ntype = "console"\nstream = 3\n'
    lines = problems(text, tmp_path)
    assert len(lines) == 2
    assert "triggers.anger.window: expected a duration such as" in lines[0]
    assert "notifiers.x.stream: expected" in lines[1]


def test_a_misspelt_required_key_is_reported_with_what_it_leaves_missing(tmp_path: Path) -> None:
    """One `check` run names both; the missing key only showed once the misspelling was fixed."""
    lines = problems('[sources.inbox]\ntype = "jsonl"\npth = "m.jsonl"\n', tmp_path)
    assert [line.split(": ", 1)[1] for line in lines] == [
        "sources.inbox.pth: unknown key; did you mean 'path'?", "sources.inbox.path: required key is missing",
    ]


def test_a_value_outside_a_choice_lists_the_choices(tmp_path: Path) -> None:
    lines = problems('[sentineld]\nlog_level = "loud"\n[notifiers.screen]\ntype = "console"\nstream = "stdot"\n',
                     tmp_path)
    assert [line.split(": ", 1)[1] for line in lines] == [
        "sentineld.log_level: Invalid enum value 'loud'; one of: debug, error, info, warning",
        "notifiers.screen.stream: Invalid enum value 'stdot'; one of: stderr, stdout",
    ]


def test_a_bad_value_in_a_table_of_names_is_named_by_its_key(tmp_path: Path) -> None:
    """msgspec says `competitors[...]`; the user wrote `rival`."""
    lines = problems('[watch.competitors]\nok = ["ok"]\nrival = "rival"\n', tmp_path)
    assert [line.split(": ", 1)[1] for line in lines] == ["watch.competitors.rival: expected array, got str"]
    lines = problems('[watch.competitors]\nrival = ["rival", 3]\n', tmp_path)
    assert [line.split(": ", 1)[1] for line in lines] == ["watch.competitors.rival[1]: expected str, got int"]


def test_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    text = BASE + '[sources.inbox]\ntype = "jsonl"\npath = "m.jsonl"\nbatch_size = "many"\n'
    lines = problems(text, tmp_path)
    assert lines == [f"{tmp_path / 'bad.toml'}: sources.inbox.batch_size: expected int, got str"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Each passed `check` and then hung the replay, crashed it, or dropped mentions.
        ("[sentineld]\nbatch_size = 0\n", "sentineld.batch_size: expected int >= 1"),
        ("[sentineld]\ntick = \"0s\"\n", "sentineld: tick must be a positive duration"),
        ('[sources.inbox]\ntype = "jsonl"\npath = "m.jsonl"\nbatch_size = -5\n',
         "sources.inbox.batch_size: expected int >= 1"),
    ],
)
def test_values_that_cannot_work_are_refused(text: str, expected: str, tmp_path: Path) -> None:
    assert problems(text, tmp_path) == [f"{tmp_path / 'bad.toml'}: {expected}"]


def test_missing_type_lists_choices(tmp_path: Path) -> None:
    lines = problems('[sources.inbox]\npath = "x"\n', tmp_path)
    assert "sources.inbox.type: required key is missing (one of:" in lines[0]
    assert "jsonl" in lines[0]


def test_missing_required_option(tmp_path: Path) -> None:
    lines = problems('[sources.inbox]\ntype = "jsonl"\n', tmp_path)
    assert lines[0].endswith("sources.inbox.path: required key is missing")


def test_bad_id_and_bad_toml(tmp_path: Path) -> None:
    lines = problems('[sources."in box"]\ntype = "jsonl"\npath = "x"\n', tmp_path)
    assert "sources.in box: an id may hold letters" in lines[0]
    lines = problems("[sentineld\n", tmp_path)
    assert "not valid TOML" in lines[0] and "line 1" in lines[0]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25), (30, 30)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "15 minutes", "m15", "-3s", "1h-2m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_secrets_from_env_and_file_are_never_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t-value")
    secret = Secret.from_config({"env": "HOOK_TOKEN"})
    assert secret.reveal() == "s3cr3t-value"
    assert "s3cr3t" not in repr(secret) and "s3cr3t" not in str(secret)
    (tmp_path / "token").write_text("from-file\n")
    assert Secret.from_config({"file": str(tmp_path / "token")}).reveal() == "from-file"
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert Secret.from_config({"credential": "token"}).reveal() == "from-file"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("plain-text-secret", "cannot be written in the config itself"),
        ({"env": "SENTINELD_SURELY_UNSET"}, "environment variable SENTINELD_SURELY_UNSET is not set"),
        ({"file": "/nonexistent/secret"}, "cannot read secret file"),
        ({"vault": "x"}, "unknown secret source"),
    ],
)
def test_bad_secrets_explain(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Secret.from_config(value)
    if isinstance(value, str):
        with pytest.raises(ValueError) as info:
            Secret.from_config(value)
        assert value not in str(info.value)


def test_check_command_names_key_and_suggests(tmp_path: Path, cli) -> None:
    path = tmp_path / "sentineld.toml"
    path.write_text(BASE.replace("brand", "brnad"))
    result = cli("check", "-c", str(path))
    assert result.returncode == 2
    assert "watch.brnad: unknown key; did you mean 'brand'?" in result.stderr


def test_check_ok_and_shipped_config_valid(cli, repo_root: Path) -> None:
    result = cli("check", "-c", str(repo_root / "sentineld.toml"))
    assert result.returncode == 0, result.stderr
    assert ": ok (" in result.stdout


def test_init_writes_a_config_that_passes_check(tmp_path: Path, cli) -> None:
    target = tmp_path / "new.toml"
    result = cli("init", str(target), "--brand", "acmeair")
    assert result.returncode == 0, result.stderr
    text = target.read_text()
    assert text.count("## ") >= 6 and '"acmeair"' in text
    assert cli("check", "-c", str(target)).returncode == 0
    again = cli("init", str(target))
    assert again.returncode == 1 and "exists" in again.stderr


def test_init_with_a_brand_of_two_words_makes_handles_without_spaces(tmp_path: Path, cli) -> None:
    """`--brand "Acme Air"` wrote "@Acme Air" and "#Acme Air", which no post can contain, and the
    account "Acme Air", so the brand's own replies were never recognised."""
    target = tmp_path / "new.toml"
    assert cli("init", str(target), "--brand", "Acme Air").returncode == 0
    watch = load_config(target).watch
    assert watch.brand == ["Acme Air", "@AcmeAir", "#AcmeAir"] and watch.accounts == ["AcmeAir"]


def test_sample_configs_of_every_builtin_validate(tmp_path: Path, cli, monkeypatch) -> None:
    """Vector's habit: every component's sample config round-trips through the validator."""
    config = load_config(text="")
    for kind, types in config.registry.types.items():
        for type_name, ctype in types.items():
            if ctype.plugin not in {p.name for p in config.registry.plugins if p.origin == "builtin"}:
                continue
            sample = ctype.cls.sample_config()
            assert sample, f"{kind} {type_name} ships no sample.toml"
            path = tmp_path / f"{type_name}.toml"
            path.write_text(sample)
            # Secrets a sample reads from the environment are resolved while validating.
            for name in re.findall(r'\benv\s*=\s*"([^"]+)"', sample):
                monkeypatch.setenv(name, "placeholder")
            load_config(path)
    shown = cli("config", "--sample", "volume_spike")
    assert shown.returncode == 0 and 'type = "volume_spike"' in shown.stdout
    wrong = cli("config", "--sample", "volume_spik")
    assert wrong.returncode == 1 and "did you mean 'volume_spike'" in wrong.stderr


def test_sample_of_a_type_name_several_kinds_use(cli) -> None:
    """`webhook` names a source and a notifier: both samples, or the one KIND:TYPE names (the
    notifier's and the responders' samples could not be printed at all)."""
    both = cli("config", "--sample", "webhook")
    assert both.returncode == 0
    assert "[sources.crm]" in both.stdout and "[notifiers.hook]" in both.stdout
    notifier = cli("config", "--sample", "notifier:webhook")
    assert notifier.returncode == 0 and "[notifiers.hook]" in notifier.stdout and "[sources." not in notifier.stdout
    responder = cli("config", "--sample", "responder:bluesky")
    assert responder.returncode == 0 and 'type = "bluesky"' in responder.stdout
    assert "[responders." in responder.stdout and "[sources." not in responder.stdout


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As documented, and as state_dir already was: the daemon under systemd runs in /, and
    `run -c ../etc/sentineld.toml` read mentions.jsonl from the working directory instead."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "hook.secret").write_text("s3cret\n")
    (etc / "sentineld.toml").write_text(
        '[sources.inbox]\ntype = "jsonl"\npath = "mentions.jsonl"\n'
        '[sources.piped]\ntype = "jsonl"\npath = "-"\n'
        '[sources.logs]\ntype = "jsonl"\npath = "/var/log/mentions.jsonl"\n'
        '[sources.mail]\ntype = "imap"\nhost = "imap.example.com"\nusername = "care"\n'
        'password = { file = "hook.secret" }\nca_file = "certs/ca.pem"\n'
        '[notifiers.log]\ntype = "file"\npath = "out/notified.jsonl"\n'
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(Path("../etc/sentineld.toml"))
    sources = config.components["source"]
    assert Path(sources["inbox"].options.path).resolve() == etc / "mentions.jsonl"
    assert sources["piped"].options.path == "-"
    assert sources["logs"].options.path == "/var/log/mentions.jsonl"
    assert sources["mail"].options.password.reveal() == "s3cret"
    assert Path(sources["mail"].options.ca_file).resolve() == etc / "certs" / "ca.pem"
    assert Path(config.components["notifier"]["log"].options.path).resolve() == etc / "out" / "notified.jsonl"
    # Without a file (the embedded config, `text=`), they stay relative to the working directory.
    embedded = load_config(text='[sources.inbox]\ntype = "jsonl"\npath = "mentions.jsonl"\n')
    assert embedded.components["source"]["inbox"].options.path == "mentions.jsonl"
