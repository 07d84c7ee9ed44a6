"""Background work: plain job functions (`tasks`), the cron table (`schedule`),
submitting an analysis from the API (`submit`); `queue` is the one adapter to RQ and Redis.

Takes ids and primitives; returns plain dicts a job record keeps.
"""
