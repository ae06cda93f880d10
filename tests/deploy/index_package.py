"""Run by a clean interpreter inside an unpacked deployment zip: index the app as the Python worker
does for a v2 app and print what it found as JSON (functions, raw bindings, loaded module files).

    python index_package.py <unpacked zip>

The worker puts the app folder and ``.python_packages/lib/site-packages`` on ``sys.path``, imports
``function_app``, takes its ``FunctionApp`` and calls ``get_functions()``; each function's
``get_raw_bindings()`` is the binding JSON sent to the host.
"""

import inspect
import json
import sys
from pathlib import Path

root = Path(sys.argv[1]).resolve()
sys.path[:0] = [str(root), str(root / ".python_packages" / "lib" / "site-packages")]

import azure.functions as func  # noqa: E402

import function_app  # noqa: E402

apps = [v for v in vars(function_app).values() if isinstance(v, func.FunctionRegister)]
functions = []
for fn in apps[0].get_functions():
    user = fn.get_user_function()
    functions.append({
        "name": fn.get_function_name(),
        "bindings": [json.loads(raw) for raw in fn.get_raw_bindings()],
        "parameters": list(inspect.signature(user).parameters),
        "is_async": inspect.iscoroutinefunction(user),
    })
files = sorted({str(Path(m.__file__).resolve()) for n, m in list(sys.modules.items())
                if n != "__main__" and getattr(m, "__file__", None)})
print(json.dumps({"apps": len(apps), "functions": functions, "files": files,
                  "stdlib": str(Path(sys.base_prefix).resolve())}))
