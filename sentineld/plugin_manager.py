"""Building the plugin manager and the catalogue of component types it registers.

Discovery order (pytest's habit): the built-ins listed in `BUILTIN_PLUGINS`, then the setuptools
entry points in the group ``sentineld``, then the modules of the configured plugins directory.
Built-ins go through the very same hooks as third-party plugins.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from sentineld import hookspecs
from sentineld.components import HOST_KEYS, KIND_BASES, Component
from sentineld.options import did_you_mean

__all__ = [
    "BUILTIN_PLUGINS",
    "ComponentType",
    "PluginError",
    "PluginInfo",
    "Registry",
    "build_plugin_manager",
    "load_registry",
]

#: The built-in plugins, registered first, in this order.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "sentineld_plugins.sources.jsonl",
    "sentineld_plugins.sources.bluesky",
    "sentineld_plugins.sources.hackernews",
    "sentineld_plugins.sources.mastodon",
    "sentineld_plugins.sources.reddit",
    "sentineld_plugins.sources.webhook",
    "sentineld_plugins.sources.rss",
    "sentineld_plugins.sources.imap",
    "sentineld_plugins.scorers.sentiment",
    "sentineld_plugins.scorers.influence",
    "sentineld_plugins.scorers.virality",
    "sentineld_plugins.triggers.volume_spike",
    "sentineld_plugins.triggers.negativity_spike",
    "sentineld_plugins.triggers.competitor_surge",
    "sentineld_plugins.triggers.influencer_mention",
    "sentineld_plugins.triggers.viral_post",
    "sentineld_plugins.triggers.new_term",
    "sentineld_plugins.triggers.unanswered",
    "sentineld_plugins.notifiers.console",
    "sentineld_plugins.notifiers.file",
    "sentineld_plugins.notifiers.webhook",
    "sentineld_plugins.notifiers.slack",
    "sentineld_plugins.notifiers.teams",
    "sentineld_plugins.notifiers.discord",
    "sentineld_plugins.notifiers.email",
    "sentineld_plugins.notifiers.pagerduty",
    "sentineld_plugins.responders.template",
    "sentineld_plugins.responders.mastodon",
    "sentineld_plugins.responders.bluesky",
)

REGISTER_HOOKS = {
    "source": "register_sources",
    "scorer": "register_scorers",
    "trigger": "register_triggers",
    "notifier": "register_notifiers",
    "responder": "register_responders",
}


class PluginError(Exception):
    """A plugin could not be loaded or registered something invalid."""


@dataclass(slots=True)
class PluginInfo:
    """What `sentineld plugins` shows for one plugin."""

    name: str
    origin: str  # "builtin", "entry point", "plugins directory"
    module: str
    version: str | None = None
    distribution: str | None = None
    registers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "origin": self.origin,
            "module": self.module,
            "version": self.version,
            "distribution": self.distribution,
            "registers": self.registers,
        }


@dataclass(slots=True, frozen=True)
class ComponentType:
    kind: str
    type_name: str
    cls: type[Component]
    plugin: str


class Registry:
    """Every registered component type, by kind and type name, with the plugin it came from."""

    def __init__(self, pm: pluggy.PluginManager, plugins: list[PluginInfo]) -> None:
        self.pm = pm
        self.plugins = plugins
        self.types: dict[str, dict[str, ComponentType]] = {kind: {} for kind in REGISTER_HOOKS}

    def get(self, kind: str, type_name: str) -> ComponentType:
        """Look a type up; the KeyError message lists the known types and a close match."""
        known = self.types[kind]
        if type_name not in known:
            hint = did_you_mean(type_name, known)
            choices = ", ".join(sorted(known)) or "none"
            raise KeyError(f"unknown {kind} type {type_name!r}{hint} (known: {choices})")
        return known[type_name]

    def _add(self, kind: str, cls: Any, plugin: str) -> None:
        base = KIND_BASES[kind]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(
                f"plugin {plugin!r} registered {cls!r} as a {kind}, "
                f"but it is not a subclass of sentineld.{base.__name__}"
            )
        type_name = getattr(cls, "type_name", None)
        if not isinstance(type_name, str) or not type_name:
            raise PluginError(f"plugin {plugin!r}: {cls.__name__} has no type_name")
        clash = HOST_KEYS.intersection(getattr(cls.Options, "__struct_encode_fields__", ()))
        if clash:
            raise PluginError(
                f"plugin {plugin!r}: {cls.__name__}.Options declares {', '.join(sorted(clash))}, "
                "which the host takes from every component table; rename the option"
            )
        existing = self.types[kind].get(type_name)
        if existing is not None and existing.cls is not cls:
            raise PluginError(
                f"{kind} type {type_name!r} is registered twice: by {existing.plugin!r} "
                f"and by {plugin!r}; block one of them with [sentineld] disable_plugins"
            )
        self.types[kind][type_name] = ComponentType(kind, type_name, cls, plugin)
        for info in self.plugins:
            if info.name == plugin:
                info.registers.append(f"{kind}:{type_name}")


def _builtin_names(modules: list[str]) -> dict[str, str]:
    """Each built-in's plugin name: the last part of its module ("jsonl"), or the last two
    ("sources.webhook", "notifiers.webhook") when built-ins of two kinds share that last part."""
    last = [module.rsplit(".", 1)[-1] for module in modules]
    return {
        module: name if last.count(name) == 1 else ".".join(module.rsplit(".", 2)[-2:])
        for module, name in zip(modules, last, strict=True)
    }


def _distribution_versions(pm: pluggy.PluginManager) -> dict[str, tuple[str, str]]:
    """Plugin name -> (distribution name, version) for plugins loaded from entry points."""
    found = {}
    for plugin, dist in pm.list_plugin_distinfo():
        name = pm.get_name(plugin)
        if name is not None:
            found[name] = (dist.metadata["name"], dist.version)
    return found


def _load_directory(pm: pluggy.PluginManager, directory: Path) -> list[str]:
    """Import each ``*.py`` module and package of `directory` and register it."""
    if not directory.is_dir():
        raise PluginError(f"plugins directory {directory} does not exist")
    names = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if path.suffix == ".py":
            module_name, location = path.stem, path
        elif (path / "__init__.py").is_file():
            module_name, location = path.name, path / "__init__.py"
        else:
            continue
        qualified = f"sentineld_local_plugins.{module_name}"
        spec = importlib.util.spec_from_file_location(
            qualified, location, submodule_search_locations=[str(path)] if path.is_dir() else None
        )
        if spec is None or spec.loader is None:
            raise PluginError(f"cannot import plugin module {location}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(qualified, None)
            raise PluginError(f"plugin {location} failed to import: {exc!r}") from exc
        pm.register(module, name=module_name)
        names.append(module_name)
    return names


def build_plugin_manager(
    plugins_dir: Path | None = None,
    blocked: Iterable[str] = (),
    *,
    builtins: Iterable[str] = BUILTIN_PLUGINS,
    entry_points: bool = True,
    extra: Iterable[ModuleType | object] = (),
) -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """The one factory for a plugin manager (none is built at import time)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    infos: list[PluginInfo] = []
    builtins = list(builtins)
    names = _builtin_names(builtins)
    for module_name in builtins:
        short = names[module_name]
        if pm.is_blocked(short):
            continue
        module = importlib.import_module(module_name)
        pm.register(module, name=short)
        infos.append(PluginInfo(short, "builtin", module_name, _own_version()))
    if entry_points:
        before = set(pm.get_plugins())
        try:
            pm.load_setuptools_entrypoints(hookspecs.PROJECT)
        except Exception as exc:
            raise PluginError(f"an entry-point plugin failed to load: {exc!r}") from exc
        versions = _distribution_versions(pm)
        for plugin in pm.get_plugins() - before:
            name = pm.get_name(plugin) or repr(plugin)
            dist, version = versions.get(name, (None, None))
            infos.append(
                PluginInfo(name, "entry point", getattr(plugin, "__name__", name), version, dist)
            )
    if plugins_dir is not None:
        for name in _load_directory(pm, plugins_dir):
            if not pm.is_blocked(name):
                infos.append(
                    PluginInfo(name, "plugins directory", str(plugins_dir / name), None)
                )
    for plugin in extra:
        if pm.is_registered(plugin):
            continue
        name = pm.register(plugin)
        if name:
            infos.append(PluginInfo(name, "registered", getattr(plugin, "__name__", name)))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    return pm, infos


def load_registry(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> Registry:
    """Call every ``register_*`` hook, remembering which plugin registered which type."""
    registry = Registry(pm, infos)
    for kind, hook_name in REGISTER_HOOKS.items():
        hook = getattr(pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # registration order
            plugin = impl.plugin_name

            def register(cls: Any, _kind: str = kind, _plugin: str = plugin) -> None:
                registry._add(_kind, cls, _plugin)

            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(f"plugin {plugin!r} failed in {hook_name}: {exc!r}") from exc
    return registry


def _own_version() -> str:
    from sentineld import __version__

    return __version__
