"""Metrics: flow metrics, DORA keys, reports and forecasts, all folded from the log."""
