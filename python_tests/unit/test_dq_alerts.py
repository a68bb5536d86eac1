"""Alert channels against real servers on 127.0.0.1: an HTTP server that receives the Slack and Teams
webhook posts, and an SMTP server (aiosmtpd). Retries, permanent failures and a dead endpoint.

The servers are also used by the integration tests (`python_tests/integration/test_dq_*.py`)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from dq.alerts.config import Alerts
from dq.alerts.send import send_alerts
from dq.checks import Finding

REPORT_URL = "file:///tmp/reports/dq_report.html"


class WebhookServer:
    """Records every POST (path and JSON body); answers with the queued status codes, then 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, object]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.posts.append((self.path, json.loads(body)))
                    status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self, path: str) -> list[object]:
        with self.lock:
            return [body for p, body in self.posts if p == path]

    def __enter__(self) -> WebhookServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """aiosmtpd handler: keeps every message that arrives."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd calls its hooks by these names
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list:
        return self.mailbox.messages

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def channels_config(webhook: WebhookServer | None, smtp: SmtpServer | None, **alerts: object) -> dict:
    """An `alerts:` section for the local servers; secrets are env var names, as in dq/alerts.yml."""
    channels: list[dict] = []
    if webhook is not None:
        channels += [
            {"type": "slack", "webhook_url_env": "TEST_DQ_SLACK_URL"},
            {"type": "teams", "webhook_url_env": "TEST_DQ_TEAMS_URL"},
            {"type": "teams", "name": "teams-workflows", "card": "adaptive", "webhook_url_env": "TEST_DQ_FLOW_URL"},
        ]
    if smtp is not None:
        channels.append(
            {
                "type": "email",
                "host": "127.0.0.1",
                "port": smtp.port,
                "security": "none",
                "from": "dq@warehouse.test",
                "to": ["oncall@warehouse.test"],
            }
        )
    retry = {"attempts": 3, "initial_delay_seconds": 0.01, "max_delay_seconds": 0.05, "timeout_seconds": 5}
    return {"suppress_hours": 24, "retry": retry, "channels": channels, **alerts}


def channel_env(webhook: WebhookServer) -> dict[str, str]:
    return {
        "TEST_DQ_SLACK_URL": webhook.url("/slack"),
        "TEST_DQ_TEAMS_URL": webhook.url("/teams"),
        "TEST_DQ_FLOW_URL": webhook.url("/flow"),
    }


def send(findings: list[Finding], config: Alerts, env: dict[str, str], **kwargs: object):
    return send_alerts(findings, config, report_url=REPORT_URL, database="warehouse", store=None, env=env, **kwargs)


FINDINGS = [
    Finding(
        check="invalid_ratio",
        severity="error",
        message="8.0% of rows invalid (4 of 50), above the 5% threshold (file held: none of it reached raw)",
        table="clinic_emr__observations",
        client_id="acme",
        file_name="acme_2026-11-19.csv",
        run_id="5f2c0a9e1b7d4c31",
    ),
    Finding(
        check="client_freshness",
        severity="warning",
        message="no file since 2026-11-19; other clients delivered up to 2026-11-20",
        table="clinic_emr__observations",
        client_id="acme",
        file_name="acme_2026-11-19.csv",
        run_id="77aa0a9e1b7d4c31",
    ),
]


def test_every_channel_receives_check_table_client_file_run_and_the_report_link(webhook, smtp):
    config = Alerts.model_validate(channels_config(webhook, smtp))
    outcome = send(FINDINGS, config, channel_env(webhook))
    assert [d.delivered for d in outcome.deliveries] == [True, True, True, True], outcome.summary()

    (slack,) = webhook.bodies("/slack")
    assert set(slack) == {"text"}
    for finding in FINDINGS:
        for value in (finding.check, finding.table, finding.client_id, finding.file_name, finding.run_id):
            assert value in slack["text"]
    assert REPORT_URL in slack["text"]

    (card,) = webhook.bodies("/teams")
    assert card["@type"] == "MessageCard" and "2 new data-quality finding(s)" in card["title"]
    assert card["potentialAction"][0]["targets"][0]["uri"] == REPORT_URL
    facts = " ".join(fact["value"] for fact in card["sections"][0]["facts"])
    assert "client acme" in facts and "file acme_2026-11-19.csv" in facts and "run 5f2c0a9e1b7d4c31" in facts

    (flow,) = webhook.bodies("/flow")
    adaptive = flow["attachments"][0]
    assert adaptive["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert adaptive["content"]["actions"][0]["url"] == REPORT_URL
    assert any("invalid_ratio" in block["text"] for block in adaptive["content"]["body"])

    (mail,) = smtp.messages
    assert mail["Subject"].startswith("[warehouse dq] 2 new data-quality finding(s) in warehouse")
    assert mail["To"] == "oncall@warehouse.test"
    body = mail.get_content()
    assert "invalid_ratio · table clinic_emr__observations · client acme · file acme_2026-11-19.csv" in body
    assert f"Report: {REPORT_URL}" in body


def test_a_server_error_is_retried_with_backoff_until_it_succeeds(webhook):
    webhook.statuses = [500, 500]  # then 200
    config = Alerts.model_validate(channels_config(webhook, None))
    config = config.model_copy(update={"channels": config.channels[:1]})
    delays: list[float] = []
    outcome = send(FINDINGS, config, channel_env(webhook), sleep=delays.append)
    (slack,) = outcome.deliveries
    assert slack.delivered and slack.attempts == 3 and slack.error is None
    assert len(webhook.bodies("/slack")) == 3
    assert delays == [0.01, 0.02], "the wait doubles between attempts"


def test_a_client_error_is_not_retried(webhook):
    webhook.statuses = [404]
    config = Alerts.model_validate(channels_config(webhook, None))
    config = config.model_copy(update={"channels": config.channels[:1]})
    outcome = send(FINDINGS, config, channel_env(webhook))
    (slack,) = outcome.deliveries
    assert not slack.delivered and slack.attempts == 1 and slack.error == "HTTP 404"
    assert len(webhook.bodies("/slack")) == 1


def test_a_dead_endpoint_gives_up_after_the_attempts_without_raising():
    dead = f"http://127.0.0.1:{free_port()}/slack"  # nothing listens there
    config = Alerts.model_validate(
        {
            "retry": {"attempts": 3, "initial_delay_seconds": 0.01},
            "channels": [
                {"type": "slack", "webhook_url_env": "TEST_DQ_SLACK_URL"},
                {
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": free_port(),
                    "security": "none",
                    "from": "a@b.test",
                    "to": ["c@d.test"],
                },
            ],
        }
    )
    outcome = send(FINDINGS, config, {"TEST_DQ_SLACK_URL": dead})
    assert [d.attempts for d in outcome.deliveries] == [3, 3]
    assert all(d.error and "cannot" in d.error for d in outcome.deliveries)
    assert "127.0.0.1:" not in outcome.deliveries[0].error, "a webhook URL is a secret: never in a message"
    assert outcome.summary().count("FAILED") == 2


def test_a_channel_whose_secret_is_not_set_is_skipped(webhook):
    config = Alerts.model_validate(channels_config(webhook, None))
    outcome = send(FINDINGS, config, {})
    assert [d.skipped for d in outcome.deliveries] == [
        "TEST_DQ_SLACK_URL is not set",
        "TEST_DQ_TEAMS_URL is not set",
        "TEST_DQ_FLOW_URL is not set",
    ]
    assert webhook.posts == []


def test_warnings_stay_quiet_when_only_errors_alert(webhook):
    config = Alerts.model_validate(channels_config(webhook, None, min_severity="error"))
    send(FINDINGS, config, channel_env(webhook))
    (slack,) = webhook.bodies("/slack")
    assert "invalid_ratio" in slack["text"] and "client_freshness" not in slack["text"]


def test_a_long_list_is_cut_with_a_pointer_to_the_report(webhook):
    many = [Finding("file_held", "error", "held", table="t", file_name=f"f{i}") for i in range(9)]
    config = Alerts.model_validate(channels_config(webhook, None, max_findings_per_message=4))
    send(many, config, channel_env(webhook))
    (slack,) = webhook.bodies("/slack")
    assert slack["text"].count("file_held · table t") == 4
    assert "... and 5 more in the report" in slack["text"]
