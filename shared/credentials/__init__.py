"""Credentials: token providers, secret expiry alerts, rotation and the configuration review."""
