"""Thin Azure Functions trigger adapters (blueprints); the logic lives in :mod:`shared.admin`."""
