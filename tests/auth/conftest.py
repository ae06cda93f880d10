"""The local token issuer of the add-in tests, for the console sign-in's ID tokens."""

from tests.addin.issuer import issuer  # noqa: F401  (a started issuer per test)
