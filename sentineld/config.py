"""Loading the TOML configuration into typed objects.

The shape follows DESIGN.md: a few fixed sections (`[sentineld]`, `[watch]`) and one table per
component kind, keyed by a stable instance id, each instance naming its plugin with ``type``::

    [triggers.anger]
    type = "negativity_spike"
    window = "15m"

Every problem is reported at once, each with the file, the key path and what was expected.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import msgspec

from sentineld.alertrules import AlertingOptions
from sentineld.cases import CasesOptions
from sentineld.components import HOST_KEYS, Component, ComponentContext, Kind
from sentineld.options import (
    Duration,
    Options,
    OptionsError,
    Problem,
    config_directory,
    convert_options,
    did_you_mean,
)
from sentineld.http.options import HttpOptions
from sentineld.outbox import OutboxOptions
from sentineld.playbooks import PlaybooksOptions
from sentineld.plugin_manager import (
    PluginError,
    Registry,
    build_plugin_manager,
    load_registry,
)
from sentineld.registry import InfluencerOptions
from sentineld.responses import ResponsesOptions
from sentineld.watch import WatchConfig

__all__ = [
    "COMPONENT_SECTIONS",
    "ComponentSpec",
    "Config",
    "ConfigError",
    "DaemonOptions",
    "find_config",
    "load_config",
]

COMPONENT_SECTIONS: Final[dict[str, Kind]] = {
    "sources": "source",
    "scorers": "scorer",
    "triggers": "trigger",
    "notifiers": "notifier",
    "responders": "responder",
}

_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
DEFAULT_CONFIG_PATHS: Final = (Path("sentineld.toml"), Path("/etc/sentineld/sentineld.toml"))


class ConfigError(OptionsError):
    """A configuration that cannot be used; str() lists every problem, one per line."""


class DaemonOptions(Options):
    """The `[sentineld]` section: the host's own settings."""

    state_dir: str | None = None
    plugins_dir: str | None = None
    disable_plugins: list[str] = []
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "console", "json"] = "auto"
    #: Mentions per batch when replaying a file, and when re-feeding what a crash left unchecked.
    batch_size: Annotated[int, msgspec.Meta(ge=1)] = 512
    #: Batches (and ticks, barriers) each queue between stages holds before the producer waits
    #: (backpressure): what bounds a live queue of small batches.
    queue_batches: Annotated[int, msgspec.Meta(ge=1)] = 16
    #: Mentions each queue between stages holds before the producer waits: what bounds the
    #: memory in flight whatever the batches' size (a bigger batch passes alone). The default,
    #: 16 batches of 512, binds only where batches are bigger than `batch_size`; 2560 keeps a
    #: long file replay's peak about 20 MB lower for about 5 % more CPU. Decision 0043.
    queue_mentions: Annotated[int, msgspec.Meta(ge=1)] = 8192
    #: How often the live event-time clock ticks when the stream is quiet.
    tick: Duration = Duration(60)
    #: How often the stream position and the state of stateful components are checkpointed.
    checkpoint_interval: Duration = Duration(5)
    #: Influencer records changed since the last checkpoint at which the next is taken early:
    #: each waits in memory as a row (about 0.4 KB) until a checkpoint stores it, so this bounds
    #: what a longer `checkpoint_interval` holds however fast mentions come. None: only the
    #: registry's own bound (`hot_authors` + `flush_every`). Decision 0042.
    checkpoint_records: Annotated[int, msgspec.Meta(ge=1)] | None = None
    #: How long `run` may take to drain its queues after SIGTERM before it cancels what is left.
    stop_timeout: Duration = Duration(20)

    def __post_init__(self) -> None:
        if self.tick <= 0:
            raise ValueError("tick must be a positive duration")


class HostKeys(Options):
    """Keys every component instance accepts, whatever its type (Telegraf's habit)."""

    type: str
    enabled: bool = True
    #: Longest a single call into the component may take before it counts as hung.
    timeout: Duration = Duration(10)


_HOST_KEYS: Final = frozenset(HostKeys.__struct_fields__)
assert _HOST_KEYS == HOST_KEYS, "keep components.HOST_KEYS in step with HostKeys"


@dataclass(slots=True)
class ComponentSpec:
    """One configured component instance, validated but not yet constructed."""

    id: str
    kind: Kind
    type_name: str
    cls: type[Component]
    options: Any
    enabled: bool = True
    timeout: float = 10.0
    raw: dict[str, Any] = field(default_factory=dict)

    def build(self, context: ComponentContext) -> Component:
        return self.cls(self.options, context)


#: Further top-level sections, each validated by its Options class. Capabilities that own a
#: section (HTTP, alerting, playbooks, …) add themselves here.
EXTRA_SECTIONS: dict[str, type[Options]] = {
    "outbox": OutboxOptions,
    "http": HttpOptions,
    "alerting": AlertingOptions,
    "influencers": InfluencerOptions,
    "playbooks": PlaybooksOptions,
    "cases": CasesOptions,
    "responses": ResponsesOptions,
}


@dataclass(slots=True)
class Config:
    """A validated configuration. `registry` knows every plugin and component type."""

    path: Path | None
    daemon: DaemonOptions
    watch: WatchConfig
    registry: Registry
    components: dict[Kind, dict[str, ComponentSpec]]
    sections: dict[str, Any] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        if self.daemon.state_dir:
            return self._resolve(self.daemon.state_dir)
        return Path(os.environ.get("STATE_DIRECTORY", "state").split(":")[0])

    def _resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        if path.is_absolute() or self.path is None:
            return path
        return self.path.parent / path

    def of_kind(self, kind: Kind) -> dict[str, ComponentSpec]:
        return {cid: spec for cid, spec in self.components[kind].items() if spec.enabled}

    def section(self, name: str) -> Any:
        return self.sections[name]

    def context(
        self, spec: ComponentSpec, influencers: Any = None, request_checkpoint: Callable[[str], None] | None = None,
    ) -> ComponentContext:
        return ComponentContext(spec.id, spec.kind, self.watch, self.state_dir, influencers=influencers,
                                request_checkpoint=request_checkpoint)


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config to use: `explicit`, ``$SENTINELD_CONFIG``, ``./sentineld.toml``,
    ``/etc/sentineld/sentineld.toml``; None means the embedded default."""
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get("SENTINELD_CONFIG")
    if env:
        return Path(env)
    for candidate in DEFAULT_CONFIG_PATHS:
        if candidate.is_file():
            return candidate
    return None


def embedded_default_text() -> str:
    """The shipped `sentineld.toml`, as packaged."""
    return resources.files("sentineld").joinpath("sentineld.toml").read_text()


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    text: str | None = None,
    entry_points: bool = True,
    extra_plugins: tuple[object, ...] = (),
) -> Config:
    """Read and validate a config file (or `text`, or the embedded default)."""
    file_path = Path(path) if path is not None else None
    label = str(file_path) if file_path else "<embedded sentineld.toml>"
    if text is None:
        if file_path is None:
            text = embedded_default_text()
        else:
            try:
                text = file_path.read_text()
            except OSError as exc:
                raise ConfigError([Problem("", f"cannot read config: {exc.strerror}")], label)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([Problem("", f"not valid TOML: {exc}")], label) from None
    with config_directory(file_path.parent if file_path is not None else None):
        return _validate(data, file_path, label, entry_points, extra_plugins)


def _validate(
    data: dict[str, Any],
    file_path: Path | None,
    label: str,
    entry_points: bool,
    extra_plugins: tuple[object, ...],
) -> Config:
    problems: list[Problem] = []
    known = ["sentineld", "watch", *COMPONENT_SECTIONS, *EXTRA_SECTIONS]
    for key in data:
        if key not in known:
            problems.append(Problem(key, "unknown section" + did_you_mean(key, known)))

    daemon = _convert(data.get("sentineld", {}), DaemonOptions, "sentineld", problems)
    watch = _convert(data.get("watch", {}), WatchConfig, "watch", problems)
    daemon = daemon or DaemonOptions()
    plugins_dir = None
    if daemon.plugins_dir:
        plugins_dir = Path(daemon.plugins_dir).expanduser()
        if not plugins_dir.is_absolute() and file_path is not None:
            plugins_dir = file_path.parent / plugins_dir
    try:
        pm, infos = build_plugin_manager(
            plugins_dir, daemon.disable_plugins, entry_points=entry_points, extra=extra_plugins
        )
        registry = load_registry(pm, infos)
    except PluginError as exc:
        raise ConfigError([*problems, Problem("sentineld", str(exc))], label) from None

    components: dict[Kind, dict[str, ComponentSpec]] = {}
    for section, kind in COMPONENT_SECTIONS.items():
        components[kind] = _components(data.get(section, {}), section, kind, registry, problems)

    sections = {}
    for name, options_cls in EXTRA_SECTIONS.items():
        sections[name] = _convert(data.get(name, {}), options_cls, name, problems)

    playbooks = sections.get("playbooks")
    if playbooks is not None:
        # Every [notifiers.ID] table counts, also one with problems of its own (reported above).
        tables = data.get("notifiers")
        known = set(components["notifier"]) | set(tables if isinstance(tables, Mapping) else ())
        problems += [Problem(path, message) for path, message in playbooks.unknown_notifiers(known)]

    if problems:
        raise ConfigError(problems, label)
    assert watch is not None
    return Config(file_path, daemon, watch, registry, components, sections)


def _convert(value: Any, cls: type[Any], path: str, problems: list[Problem]) -> Any:
    if not isinstance(value, Mapping):
        problems.append(Problem(path, f"expected a table, got {type(value).__name__}"))
        return None
    try:
        return convert_options(value, cls, path)
    except OptionsError as exc:
        problems.extend(exc.problems)
        return None


def _components(
    section: Any, name: str, kind: Kind, registry: Registry, problems: list[Problem]
) -> dict[str, ComponentSpec]:
    specs: dict[str, ComponentSpec] = {}
    if not isinstance(section, Mapping):
        problems.append(Problem(name, f"expected a table of [{name}.ID] tables"))
        return specs
    for cid, raw in section.items():
        path = f"{name}.{cid}"
        if not _ID_PATTERN.match(cid):
            problems.append(Problem(path, "an id may hold letters, digits, '_' and '-' only"))
            continue
        if not isinstance(raw, Mapping):
            problems.append(Problem(path, f"expected a table, got {type(raw).__name__}"))
            continue
        if "type" not in raw:
            known = ", ".join(sorted(registry.types[kind])) or "none registered"
            problems.append(Problem(f"{path}.type", f"required key is missing (one of: {known})"))
            continue
        type_name = raw["type"]
        try:
            ctype = registry.get(kind, str(type_name))
        except KeyError as exc:
            problems.append(Problem(f"{path}.type", exc.args[0]))
            continue
        host_raw = {k: v for k, v in raw.items() if k in _HOST_KEYS}
        own_raw = {k: v for k, v in raw.items() if k not in _HOST_KEYS}
        host = _convert(host_raw, HostKeys, path, problems)
        options = _convert(own_raw, ctype.cls.Options, path, problems)
        if host is None or options is None:
            continue
        specs[cid] = ComponentSpec(
            cid, kind, ctype.type_name, ctype.cls, options, host.enabled, host.timeout, dict(raw)
        )
    return specs
