"""Azure Functions trigger adapters (blueprints), one module per trigger family."""
