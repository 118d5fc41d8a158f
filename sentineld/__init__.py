"""sentineld: a daemon for social customer care.

The public surface for plugin authors is re-exported here: the component base classes, the
`hookimpl` marker, `Options` and its value types, and the interchange formats.
"""

# First: it puts the finder that keeps stale compiled modules out in front (sentineld.compiled).
from sentineld import compiled as _compiled  # noqa: F401  (isort: skip)
from sentineld.components import (
    AlertSink,
    ComponentContext,
    Draft,
    Health,
    HealthState,
    Notification,
    Notifier,
    PermanentDeliveryError,
    Responder,
    RetryableDeliveryError,
    Scorer,
    Source,
    Trigger,
)
from sentineld.changes import MentionChange
from sentineld.hookspecs import hookimpl
from sentineld.model import Alert, Author, Mention, Metrics
from sentineld.options import ConfigPath, Duration, Options, Secret

__version__ = "0.1.0"

__all__ = [
    "Alert",
    "AlertSink",
    "Author",
    "ComponentContext",
    "ConfigPath",
    "Draft",
    "Duration",
    "Health",
    "HealthState",
    "Mention",
    "MentionChange",
    "Metrics",
    "Notification",
    "Notifier",
    "Options",
    "PermanentDeliveryError",
    "Responder",
    "RetryableDeliveryError",
    "Scorer",
    "Secret",
    "Source",
    "Trigger",
    "__version__",
    "hookimpl",
]
