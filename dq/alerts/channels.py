"""The alert channels: Slack and Microsoft Teams incoming webhooks, and SMTP e-mail.

Each turns one `AlertMessage` into its wire format and delivers it once; retrying is `send.py`'s job.
A failure raises `DeliveryError`, whose text names the channel's problem but never its webhook URL
(the URL is the secret) nor anything from the findings.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage

from dq.alerts.config import EmailChannel, SlackChannel, TeamsChannel
from dq.checks import Finding


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class AlertMessage:
    findings: tuple[Finding, ...]
    report_url: str
    total: int  # findings in this alert, including those past the per-message cap
    database: str

    @property
    def title(self) -> str:
        errors = sum(f.severity == "error" for f in self.findings)
        kinds = sorted({f.check for f in self.findings})
        return f"{self.total} new data-quality finding(s) in {self.database} ({errors} error(s)): {', '.join(kinds)}"

    def lines(self) -> list[str]:
        lines = [f"[{f.severity}] {f.headline()}" for f in self.findings]
        if self.total > len(self.findings):
            lines.append(f"... and {self.total - len(self.findings)} more in the report")
        return lines

    def text(self) -> str:
        return "\n".join([self.title, *self.lines(), f"Report: {self.report_url}"])


# ---- webhooks ----------------------------------------------------------------------------------------
def slack_payload(message: AlertMessage) -> dict[str, object]:
    return {"text": message.text()}


def teams_payload(message: AlertMessage, card: str = "messagecard") -> dict[str, object]:
    facts = [{"name": f"{f.severity} · {f.check}", "value": f.headline()} for f in message.findings]
    if card == "adaptive":
        body: list[dict[str, object]] = [
            {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True, "text": message.title}
        ]
        body += [{"type": "TextBlock", "wrap": True, "text": line} for line in message.lines()]
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": body,
                        "actions": [{"type": "Action.OpenUrl", "title": "Open report", "url": message.report_url}],
                    },
                }
            ],
        }
    errors = any(f.severity == "error" for f in message.findings)
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": message.title,
        "themeColor": "C62828" if errors else "F9A825",
        "title": message.title,
        "sections": [{"facts": facts, "text": "\n\n".join(message.lines())}],
        "potentialAction": [
            {"@type": "OpenUri", "name": "Open report", "targets": [{"os": "default", "uri": message.report_url}]}
        ],
    }


def post_json(url: str, payload: dict[str, object], timeout: float) -> None:
    data = json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        # Rate limits and server errors pass; a 4xx means the URL or payload is wrong and stays wrong.
        raise DeliveryError(f"HTTP {exc.code}", retryable=exc.code == 429 or exc.code >= 500) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"cannot reach the webhook: {_reason(exc.reason)}", retryable=True) from None
    except (TimeoutError, ConnectionError, OSError) as exc:
        raise DeliveryError(f"cannot reach the webhook: {_reason(exc)}", retryable=True) from None


def _reason(exc: object) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__ if isinstance(exc, BaseException) else str(exc)


def send_slack(channel: SlackChannel, url: str, message: AlertMessage, timeout: float) -> None:
    post_json(url, slack_payload(message), timeout)


def send_teams(channel: TeamsChannel, url: str, message: AlertMessage, timeout: float) -> None:
    post_json(url, teams_payload(message, channel.card), timeout)


# ---- e-mail ------------------------------------------------------------------------------------------
def email_message(channel: EmailChannel, message: AlertMessage) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = f"{channel.subject_prefix} {message.title}"
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.to)
    mail.set_content(message.text() + "\n")
    return mail


def send_email(channel: EmailChannel, password: str | None, message: AlertMessage, timeout: float) -> None:
    mail = email_message(channel, message)
    try:
        if channel.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                channel.host, channel.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(channel.host, channel.port, timeout=timeout)
        with smtp:
            if channel.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if channel.username:
                smtp.login(channel.username, password or "")
            smtp.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP login refused ({exc.smtp_code})", retryable=False) from None
    except smtplib.SMTPResponseException as exc:
        # 4xx replies are temporary by definition; 5xx are permanent.
        raise DeliveryError(f"SMTP error {exc.smtp_code}", retryable=400 <= exc.smtp_code < 500) from None
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryError("SMTP server refused every recipient", retryable=False) from None
    except (smtplib.SMTPException, OSError) as exc:
        where = f"{channel.host}:{channel.port}"
        raise DeliveryError(f"cannot deliver through {where}: {_reason(exc)}", retryable=True) from None
