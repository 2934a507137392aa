"""Notifications: subscriptions, email, signed webhooks, the pipeline gate."""
