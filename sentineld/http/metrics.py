"""``/metrics``: the daemon in Prometheus's text format, with prometheus-client.

Counters the pipeline already keeps (mentions per source, plugin errors, …) are read at scrape
time by `PipelineCollector`, so the hot path does no extra book-keeping. Per-stage latencies and
alert events are observed as they happen into real prometheus-client histograms and counters.
The daemon carries the pipeline's counters over a reload, so they only ever go up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from sentineld.components import HealthState, Source

if TYPE_CHECKING:
    from sentineld.alerting import AlertEvent
    from sentineld.pipeline import Pipeline

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

#: Per-stage latency buckets (seconds): a batch normally takes well under a second.
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PipelineCollector(Collector):
    """Reads the current pipeline's live counters at scrape time."""

    def __init__(self, pipeline: Callable[[], Pipeline | None], extra: Callable[[], dict[str, Any]]) -> None:
        self.pipeline = pipeline
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        pipeline = self.pipeline()
        if pipeline is None:
            return
        stats = pipeline.stats
        received = CounterMetricFamily(
            "sentineld_mentions_received", "Mentions handed over by each source (with duplicates).",
            labels=["source"],
        )
        for source, count in sorted(stats.received.items()):
            received.add_metric([source], count)
        yield received
        stored = CounterMetricFamily(
            "sentineld_mentions_stored", "New mentions stored from each source (after dedup).",
            labels=["source"],
        )
        for source, count in sorted(stats.stored_by_source.items()):
            stored.add_metric([source], count)
        yield stored
        yield CounterMetricFamily(
            "sentineld_mentions_duplicate", "Mentions dropped because their id was stored already.",
            value=stats.duplicates,
        )
        yield CounterMetricFamily(
            "sentineld_mentions_scored", "Mentions through the scoring stage.", value=stats.scored
        )
        yield CounterMetricFamily(
            "sentineld_mentions_refed", "Mentions re-fed after a restart (stored after the last checkpoint).",
            value=stats.refed,
        )
        yield CounterMetricFamily(
            "sentineld_checkpoints", "Checkpoints committed.", value=stats.checkpoints
        )
        changes = CounterMetricFamily(
            "sentineld_mention_changes",
            "Deletions and edits reported by sources, by what the store did with them "
            "(deleted, edited, unknown: never stored, repeated: applied before or stale).",
            labels=["outcome"],
        )
        for outcome, count in sorted(stats.changes.items()):
            changes.add_metric([outcome], count)
        yield changes

        depth = GaugeMetricFamily(
            "sentineld_queue_depth", "Batches waiting in the queue in front of each stage.", labels=["stage"]
        )
        capacity = GaugeMetricFamily(
            "sentineld_queue_capacity", "Batches each stage's queue holds before producers wait.",
            labels=["stage"],
        )
        held = GaugeMetricFamily(
            "sentineld_queue_mentions", "Mentions waiting in the queue in front of each stage.",
            labels=["stage"],
        )
        room = GaugeMetricFamily(
            "sentineld_queue_mentions_capacity",
            "Mentions each stage's queue holds before producers wait (queue_mentions; a bigger "
            "batch passes alone).",
            labels=["stage"],
        )
        queues = {"ingest": pipeline.ingest_queue, "score": pipeline.score_queue,
                  "trigger": pipeline.trigger_queue, "commit": pipeline.commit_queue}
        for stage, queue in queues.items():
            depth.add_metric([stage], queue.qsize())
            capacity.add_metric([stage], queue.maxsize)
            held.add_metric([stage], queue.mentions)
            room.add_metric([stage], queue.room.max_mentions)
        yield depth
        yield capacity
        yield held
        yield room

        open_alerts = GaugeMetricFamily(
            "sentineld_alerts_open", "Alerts open now.", labels=["kind", "severity"]
        )
        counts: dict[tuple[str, str], int] = {}
        for alert in pipeline.alerts.open.values():
            key = (alert.kind, alert.severity)
            counts[key] = counts.get(key, 0) + 1
        for (kind, severity), count in sorted(counts.items()):
            open_alerts.add_metric([kind, severity], count)
        yield open_alerts

        labels = ["component", "kind", "type"]
        calls = CounterMetricFamily("sentineld_plugin_calls", "Calls into each component.", labels=labels)
        errors = CounterMetricFamily(
            "sentineld_plugin_errors", "Calls into each component that raised.", labels=labels
        )
        timeouts = CounterMetricFamily(
            "sentineld_plugin_timeouts", "Calls into each component that hung past its timeout.", labels=labels
        )
        restarts = CounterMetricFamily(
            "sentineld_plugin_restarts", "Times each component was rebuilt or restarted.", labels=labels
        )
        for guard in pipeline.all_guards:
            key = [guard.id, guard.spec.kind, guard.spec.type_name]
            calls.add_metric(key, guard.stats.calls)
            errors.add_metric(key, guard.stats.errors)
            timeouts.add_metric(key, guard.stats.timeouts)
            restarts.add_metric(key, guard.stats.restarts)
        yield from (calls, errors, timeouts, restarts)

        health = GaugeMetricFamily(
            "sentineld_source_health", "1 for each source's current health state.", labels=["source", "state"]
        )
        malformed = CounterMetricFamily(
            "sentineld_source_malformed", "Payloads each source rejected as malformed.", labels=["source"]
        )
        for guard in pipeline.sources:
            source = guard.component
            if isinstance(source, Source):
                for state in HealthState:
                    health.add_metric([guard.id, state.value], 1 if source.health.state == state else 0)
                malformed.add_metric([guard.id], source.malformed)
        yield health
        yield malformed

        delivered = CounterMetricFamily(
            "sentineld_deliveries", "Notifications delivered or dead-lettered, per notifier.",
            labels=["destination", "outcome"],
        )
        for worker in pipeline.workers:
            delivered.add_metric([worker.destination, "delivered"], worker.delivered)
            delivered.add_metric([worker.destination, "dead"], worker.dead)
        yield delivered

        extra = self.extra()
        outbox = GaugeMetricFamily(
            "sentineld_outbox_items", "Notifications in the outbox, per notifier and state.",
            labels=["destination", "state"],
        )
        for destination, state, count in extra.get("outbox", []):
            outbox.add_metric([destination, state], count)
        yield outbox
        yield GaugeMetricFamily(
            "sentineld_dashboard_clients", "Dashboards connected to the live event stream.",
            value=extra.get("clients", 0),
        )


class Metrics:
    """The registry ``/metrics`` serves; survives reloads (the HTTP side outlives pipelines)."""

    def __init__(self, pipeline: Callable[[], Pipeline | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.extra: dict[str, Any] = {}
        self.registry.register(PipelineCollector(pipeline, lambda: self.extra))
        ProcessCollector(registry=self.registry)
        self.stage_seconds = Histogram(
            "sentineld_stage_seconds", "Seconds each pipeline stage spent on one batch.",
            ["stage"], buckets=STAGE_BUCKETS, registry=self.registry,
        )
        self.alert_events = Counter(
            "sentineld_alert_events", "Alert events (opened, updated, resolved) by kind.",
            ["kind", "event"], registry=self.registry,
        )
        self.reloads = Counter(
            "sentineld_reloads", "Configuration reloads (SIGHUP) by result.", ["result"],
            registry=self.registry,
        )
        for result in ("ok", "rejected", "failed"):
            self.reloads.labels(result)

    def observe_stage(self, stage: str, seconds: float) -> None:
        self.stage_seconds.labels(stage).observe(seconds)

    def alert_event(self, event: AlertEvent) -> None:
        self.alert_events.labels(event.alert.kind, event.event).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
