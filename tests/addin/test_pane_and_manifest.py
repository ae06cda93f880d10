"""The add-in's files: the manifest validates offline against the schema in @microsoft/app-manifest,
the pane's logic passes its Node tests (office-addin-mock), the vendored MSAL build matches npm,
and the pane's files are served without letting a path escape ``addin/``."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import azure.functions as func
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


build_addin = _script("build_addin")
vendor_addin = _script("vendor_addin")
NODE = shutil.which("node")
VALIDATOR = ROOT / "tests" / "addin" / "js" / "validate_manifest.mjs"


def _node(*args: str) -> subprocess.CompletedProcess[str]:
    if NODE is None:
        pytest.fail("node is missing: install Node.js 20 (make bootstrap needs it for npm too)")
    return subprocess.run([NODE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return _node(str(VALIDATOR), str(path))


@pytest.mark.parametrize("office", ["cdn", "local"])
def test_make_addin_writes_a_manifest_that_validates(tmp_path: Path, office: str) -> None:
    package = build_addin.build(tmp_path, base_url="https://exsync.contoso.com", name="Contoso CRM",
                                app_id="5b0f6b8e-1d7e-4a43-9d60-3f0e8e2b2a11", office=office, icon=None)
    result = _validate(tmp_path / "manifest.json")
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    page = manifest["extensions"][0]["runtimes"][0]["code"]["page"]
    assert page.startswith("https://exsync.contoso.com/api/addin/static/pane/index.html")
    assert page.endswith("?office=local") == (office == "local")
    contexts = {r["contexts"][0] for r in manifest["extensions"][0]["ribbons"]}
    assert contexts == {"mailRead", "mailCompose"} and manifest["name"]["short"] == "Contoso CRM"
    with zipfile.ZipFile(package) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]


def test_the_validator_rejects_a_broken_manifest(tmp_path: Path) -> None:
    manifest = build_addin.manifest(base_url="https://exsync.contoso.com", name="exsync",
                                    app_id=build_addin.DEFAULT_APP_ID)
    manifest["extensions"][0]["ribbons"][0]["contexts"] = ["mailReed"]
    del manifest["accentColor"]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    result = _validate(path)
    assert result.returncode == 1
    assert "accentColor" in result.stdout and "/extensions/0/ribbons/0/contexts/0" in result.stdout


@pytest.mark.parametrize(("options", "message"), [
    ({"base_url": "http://exsync.contoso.com"}, "https only"),
    ({"base_url": "https://exsync.contoso.com/api"}, "origin only"),
    ({"name": "x" * 31}, "1 to 30 characters"),
    ({"app_id": "not-a-guid"}, "expected a GUID"),
])
def test_bad_build_options_name_the_option(options: dict[str, str], message: str) -> None:
    args = {"base_url": "https://exsync.contoso.com", "name": "exsync", "app_id": build_addin.DEFAULT_APP_ID,
            **options}
    with pytest.raises(build_addin.BuildError, match=message):
        build_addin.manifest(**args)


def test_a_custom_icon_must_be_192_pixels(tmp_path: Path) -> None:
    small = tmp_path / "small.png"
    small.write_bytes((ROOT / "addin" / "assets" / "icon-32.png").read_bytes())
    with pytest.raises(build_addin.BuildError, match="192x192"):
        build_addin.build(tmp_path / "out", base_url="https://e.contoso.com", name="x",
                          app_id=build_addin.DEFAULT_APP_ID, office="cdn", icon=small)


def test_pane_logic_under_nodes_test_runner() -> None:
    result = _node("--test", "tests/addin/js/")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout


def test_vendored_msal_matches_the_npm_package() -> None:
    assert vendor_addin.check() == []


def test_vendor_script_check_mode_exits_zero() -> None:
    result = subprocess.run([sys.executable, "scripts/vendor_addin.py", "--check"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


async def _get(path: str, office: str | None = None) -> func.HttpResponse:
    from functions.addin import static

    params = {"office": office} if office else {}
    req = func.HttpRequest("GET", f"http://localhost/api/addin/static/{path}", body=b"", params=params,
                           route_params={"path": path})
    return await static.build().get_user_function()(req)  # type: ignore[no-any-return]


async def test_pane_is_served_with_office_js_from_the_cdn_or_the_local_copy() -> None:
    cdn = await _get("pane/index.html")
    assert cdn.status_code == 200 and cdn.mimetype == "text/html"
    assert b"https://appsforoffice.microsoft.com/lib/1/hosted/office.js" in cdn.get_body()
    local = await _get("pane/index.html", "local")
    assert b'src="../vendor/office/office.js"' in local.get_body()
    script = await _get("pane/main.js")
    assert script.mimetype == "text/javascript"


@pytest.mark.parametrize("path", ["../function_app.py", "pane/../../function_app.py", "pane/missing.js",
                                  "shared/settings.py", "", "pane/..\\x"])
async def test_paths_outside_the_pane_folders_are_not_served(path: str) -> None:
    assert (await _get(path)).status_code == 404
