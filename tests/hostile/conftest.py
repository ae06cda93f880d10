"""The hostile-content fixtures: the function fixtures (a Runtime on Azurite with the gateway twins) and
the engine over both simulators (``tests/integration/test_engine_http.py``'s world)."""

from tests.erp.conftest import acumatica_sim
from tests.functions.conftest import env
from tests.integration.test_engine_http import world

__all__ = ["acumatica_sim", "env", "world"]
