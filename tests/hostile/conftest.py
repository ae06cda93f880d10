"""The hostile-content tests reuse the function fixtures: a Runtime on Azurite with the gateway twins."""

from tests.functions.conftest import env

__all__ = ["env"]
