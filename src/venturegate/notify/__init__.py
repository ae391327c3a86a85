"""Notifications: routing events to channels (pure), rendering messages, sending them (Slack, e-mail, webhook).

The engine writes outbox rows with their events (engine/outbox.py) and delivers them through this package.
"""
