"""The HTTP side of the daemon: health, Prometheus metrics, a paged JSON API, the webhook ingest
mount and the live dashboard (aiohttp).

Importing this package is cheap (only the options); aiohttp and prometheus-client are imported
when the server starts, so that ``sentineld check`` stays fast.
"""

from sentineld.http.options import HttpOptions

__all__ = ["HttpOptions"]
