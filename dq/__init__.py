"""Data quality over the audit history: anomaly checks, the HTML/JSON report and alerts."""
