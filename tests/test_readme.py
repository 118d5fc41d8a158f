"""The README's catalogue stays true: every built-in type is listed with a working link, and each
source's sample config is the one the plugin ships."""

from __future__ import annotations

from pathlib import Path

from sentineld.config import load_config

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def builtin_types():
    config = load_config(text="", entry_points=False)
    for kind, types in config.registry.types.items():
        for name, ctype in types.items():
            yield kind, name, ctype.cls


def test_every_builtin_is_listed_with_a_link_that_exists() -> None:
    for kind, name, cls in builtin_types():
        folder = "plugins/" + "/".join(cls.__module__.split(".")[1:3])
        row = f"| [`{name}`]({folder}/README.md) | {cls.description} |"
        assert row in README, f"README.md does not list the {kind} {name!r} as: {row}"
        assert (REPO / folder / "README.md").is_file()


def test_each_source_sample_in_the_readme_is_the_shipped_one() -> None:
    for kind, name, cls in builtin_types():
        if kind == "source":
            assert cls.sample_config().rstrip("\n") in README, f"README.md: refresh the {name} sample"
