"""Application logic behind the Functions triggers: admin API, scheduling, worker, notifications.

Everything here is testable without the Functions host; ``functions/`` holds thin adapters.
"""
