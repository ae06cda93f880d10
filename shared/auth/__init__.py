"""Caller authentication: Entra ID v2 access tokens (the Outlook add-in, and the console when App
Service Authentication is unavailable)."""
