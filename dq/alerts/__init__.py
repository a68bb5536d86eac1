"""Alerts: their configuration (`dq/alerts.yml`), the Slack, Teams and e-mail channels, and sending."""
