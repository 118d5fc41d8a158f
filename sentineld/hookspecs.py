"""Every hook sentineld calls: the reference for plugin authors.

Hooks are synchronous (pluggy). The ``register_*`` hooks hand the plugin a callback to register
component *classes*; the classes carry the async work. The observer hooks let a plugin watch the
daemon without owning a stage: they run on the event loop, so they must return quickly (start a
task if there is real work to do) and must never block.

A plugin is any module or object with functions decorated by ``sentineld.hookimpl`` whose names
match the functions below. It may implement any subset of them, and may declare only the
arguments it uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from sentineld.components import Notifier, Responder, Scorer, Source, Trigger
    from sentineld.config import Config
    from sentineld.model import Alert

PROJECT = "sentineld"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------- registration


@hookspec
def register_sources(register: Callable[[type[Source]], None]) -> None:
    """Register source classes: each brings mentions in from one kind of place.

    :param register: call it with each `sentineld.Source` subclass; the class's ``type_name``
        is what ``[sources.ID] type = "..."`` names in the config.
    """


@hookspec
def register_scorers(register: Callable[[type[Scorer]], None]) -> None:
    """Register scorer classes: each adds scores and labels to mentions.

    :param register: call it with each `sentineld.Scorer` subclass.
    """


@hookspec
def register_triggers(register: Callable[[type[Trigger]], None]) -> None:
    """Register trigger classes: each turns the scored stream into alerts.

    :param register: call it with each `sentineld.Trigger` subclass.
    """


@hookspec
def register_notifiers(register: Callable[[type[Notifier]], None]) -> None:
    """Register notifier classes: each delivers alerts and drafted responses somewhere.

    :param register: call it with each `sentineld.Notifier` subclass.
    """


@hookspec
def register_responders(register: Callable[[type[Responder]], None]) -> None:
    """Register responder classes: each drafts replies (and may post approved ones).

    :param register: call it with each `sentineld.Responder` subclass.
    """


# --------------------------------------------------------------------------- observers


@hookspec
def sentineld_startup(config: Config) -> None:
    """The pipeline is built and about to start. Cheap: runs on the event loop.

    :param config: the validated configuration the daemon runs with.
    """


@hookspec
def sentineld_shutdown() -> None:
    """The pipeline has drained and stopped; called once, last. Cheap: runs on the event loop."""


@hookspec
def alert_raised(alert: Alert) -> None:
    """An alert was opened (after it is stored). Cheap: runs on the event loop.

    :param alert: the new alert, in the Alert interchange format.
    """


@hookspec
def alert_resolved(alert: Alert) -> None:
    """An open alert was resolved (after it is stored). Cheap: runs on the event loop.

    :param alert: the alert, with ``resolved_at`` set.
    """
