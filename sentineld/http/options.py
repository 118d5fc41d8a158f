"""The ``[http]`` section of the configuration."""

from __future__ import annotations

from typing import Annotated

import msgspec

from sentineld.options import Duration, Options, Secret

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]


class HttpOptions(Options):
    """Where the HTTP side listens and who may read it.

    Everything beyond ``/healthz`` and ``/readyz`` needs the token: as ``Authorization: Bearer
    TOKEN`` (Prometheus, scripts) or as the session cookie the dashboard's sign-in sets. Without
    a configured token the daemon generates one and keeps it in ``STATE_DIR/http-token``
    (readable by the daemon's user only).
    """

    #: Serve HTTP. Off unless the config says so (the shipped and starter configs do), so that
    #: a daemon never takes a port nobody asked it to.
    enabled: bool = False
    #: Address to bind. The default keeps the API on this machine; put a reverse proxy with TLS
    #: in front before opening it wider.
    listen: str = "127.0.0.1"
    #: TCP port; 0 picks a free one (logged at start).
    port: Port = 8780
    #: The API token: { env = "NAME" }, { file = "PATH" } or { credential = "NAME" }.
    token: Secret | None = None
    #: How much event time the dashboard's charts cover, and the width of one bar.
    chart_window: Duration = Duration(6 * 3600)
    chart_bucket: Duration = Duration(60)
    #: Largest page the JSON API returns.
    max_page: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 500
