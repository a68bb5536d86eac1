"""Send findings to every configured channel: suppression, retries with backoff, never a failure.

Alerting is the last step of `warehouse run` and must not hold it up or fail it: each channel gets a
bounded number of attempts with exponential backoff, all channels together a bounded time (they run
side by side), and whatever still fails becomes one warning line. What was delivered is recorded in
`audit.dq_alerts_sent` per finding fingerprint and channel, so the same finding is not sent to the
same channel again within `suppress_hours`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg2
import psycopg2.extensions

from dq.alerts.channels import AlertMessage, DeliveryError, send_email, send_slack, send_teams
from dq.alerts.config import Alerts, Channel, EmailChannel, Retry, SlackChannel, TeamsChannel
from dq.checks import Finding
from dq.history import readable

SENT_DDL = """
create table if not exists audit.dq_alerts_sent (
    fingerprint text not null,
    channel text not null,
    check_name text not null,
    table_name text,
    client_id text,
    file_name text,
    run_id text,
    severity text,
    first_sent_at timestamptz not null default now(),
    last_sent_at timestamptz not null default now(),
    times_sent integer not null default 1,
    primary key (fingerprint, channel)
);
comment on table audit.dq_alerts_sent is
    'Alerts delivered by `warehouse dq alert`, per finding fingerprint (check, table, client, file) and channel: '
    'suppresses repeats within suppress_hours.';
"""


class SentAlerts:
    """`audit.dq_alerts_sent`, written as `loader` (which may create tables in audit; `auditor` reads them)."""

    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self.conn = conn
        with conn.cursor() as cur:
            cur.execute("select to_regclass('audit.dq_alerts_sent') is not null")
            if not cur.fetchone()[0]:
                cur.execute(SENT_DDL)

    def recently_sent(self, channel: str, fingerprints: list[str], hours: float) -> set[str]:
        with self.conn.cursor() as cur:
            cur.execute(
                "select fingerprint from audit.dq_alerts_sent where channel = %s and fingerprint = any(%s) "
                "and last_sent_at > now() - make_interval(secs => %s)",
                (channel, fingerprints, hours * 3600),
            )
            return {row[0] for row in cur.fetchall()}

    def record(self, channel: str, findings: list[Finding]) -> None:
        with self.conn.cursor() as cur:
            for f in findings:
                cur.execute(
                    """
                    insert into audit.dq_alerts_sent
                        (fingerprint, channel, check_name, table_name, client_id, file_name, run_id, severity)
                    values (%s, %s, %s, %s, %s, %s, %s, %s)
                    on conflict (fingerprint, channel) do update set
                        last_sent_at = now(), times_sent = dq_alerts_sent.times_sent + 1, run_id = excluded.run_id
                    """,
                    (f.fingerprint, channel, f.check, f.table, f.client_id, f.file_name, f.run_id, f.severity),
                )


@dataclass
class Delivery:
    channel: str
    findings: list[Finding] = field(default_factory=list)  # what this channel was to be sent
    suppressed: int = 0
    attempts: int = 0
    delivered: bool = False
    skipped: str | None = None  # not configured in this environment
    error: str | None = None


@dataclass
class AlertOutcome:
    deliveries: list[Delivery]
    considered: int
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.error]

    def summary(self) -> str:
        parts = []
        for d in self.deliveries:
            if d.skipped:
                parts.append(f"{d.channel}: skipped")
            elif d.delivered:
                parts.append(f"{d.channel}: sent {len(d.findings)} ({d.suppressed} suppressed)")
            elif d.error:
                parts.append(f"{d.channel}: FAILED")
            else:
                parts.append(f"{d.channel}: nothing new ({d.suppressed} suppressed)")
        return f"alerts: {self.considered} finding(s) to alert on; " + ("; ".join(parts) or "no channels configured")


def retrying(
    action: Callable[[], None],
    policy: Retry,
    deadline: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run `action` until it succeeds, it fails for good, attempts run out or the deadline would pass.
    Returns the attempts made; the last DeliveryError propagates."""
    delay = policy.initial_delay_seconds
    attempt = 0
    while True:
        attempt += 1
        try:
            action()
            return attempt
        except DeliveryError as exc:
            exc.attempts = attempt  # type: ignore[attr-defined]
            if not exc.retryable or attempt >= policy.attempts or clock() + delay >= deadline:
                raise
        sleep(delay)
        delay = min(delay * 2, policy.max_delay_seconds)


def _secret(channel: Channel, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(secret, reason it is missing). Webhook URLs and SMTP passwords come from the environment only."""
    name = channel.webhook_url_env if isinstance(channel, SlackChannel | TeamsChannel) else channel.password_env
    if name is None:
        return None, None
    value = env.get(name, "").strip()
    return (value, None) if value else (None, f"{name} is not set")


def _deliver(channel: Channel, secret: str | None, message: AlertMessage, policy: Retry, deadline: float, sleep) -> int:
    def once() -> None:
        timeout = max(0.5, min(policy.timeout_seconds, deadline - time.monotonic()))
        if isinstance(channel, SlackChannel):
            send_slack(channel, secret or "", message, timeout)
        elif isinstance(channel, TeamsChannel):
            send_teams(channel, secret or "", message, timeout)
        elif isinstance(channel, EmailChannel):
            send_email(channel, secret, message, timeout)

    return retrying(once, policy, deadline, sleep=sleep)


SEVERITY_RANK = {"warning": 1, "error": 2}


def send_alerts(
    findings: list[Finding],
    config: Alerts,
    *,
    report_url: str,
    database: str,
    store: SentAlerts | None,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> AlertOutcome:
    """Never raises for a channel's failure: it ends up in the outcome's `error` for a warning line."""
    env = os.environ if env is None else env
    floor = SEVERITY_RANK[config.min_severity]
    wanted = [f for f in findings if SEVERITY_RANK.get(f.severity, 2) >= floor]
    outcome = AlertOutcome([], considered=len(wanted))
    if store is None and wanted:
        outcome.notes.append("alert history unavailable: sending without suppression")
    jobs: list[tuple[Delivery, Channel, str | None, AlertMessage]] = []
    for channel in config.channels:
        delivery = Delivery(channel.name)
        outcome.deliveries.append(delivery)
        secret, missing = _secret(channel, env)
        if missing:
            delivery.skipped = missing
            continue
        fresh = wanted
        if store is not None and wanted and config.suppress_hours > 0:
            try:
                seen = store.recently_sent(channel.name, [f.fingerprint for f in wanted], config.suppress_hours)
            except psycopg2.Error as exc:
                outcome.notes.append(f"alert history unreadable ({readable(exc)}): sending without suppression")
                seen = set()
            fresh = [f for f in wanted if f.fingerprint not in seen]
        delivery.suppressed = len(wanted) - len(fresh)
        delivery.findings = fresh
        if not fresh:
            continue
        shown = tuple(fresh[: config.max_findings_per_message])
        jobs.append((delivery, channel, secret, AlertMessage(shown, report_url, len(fresh), database)))

    deadline = time.monotonic() + config.retry.max_total_seconds
    if jobs:
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="dq-alert") as pool:
            futures = [
                (delivery, pool.submit(_deliver, channel, secret, message, config.retry, deadline, sleep))
                for delivery, channel, secret, message in jobs
            ]
            for delivery, future in futures:
                try:
                    delivery.attempts = future.result()
                    delivery.delivered = True
                except DeliveryError as exc:
                    delivery.attempts = getattr(exc, "attempts", 0)
                    delivery.error = str(exc)
    for delivery in outcome.deliveries:
        if delivery.delivered and store is not None:
            try:
                store.record(delivery.channel, delivery.findings)
            except psycopg2.Error as exc:
                outcome.notes.append(f"could not record alerts sent to {delivery.channel}: {readable(exc)}")
    return outcome
