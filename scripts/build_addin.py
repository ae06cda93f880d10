"""Write the Outlook add-in's app package for one deployment: the unified manifest (Microsoft 365
app manifest) and its two icons, zipped for sideloading or centralized deployment.

``make addin`` calls this; everything deployment-specific is an option::

    python scripts/build_addin.py --base-url https://exsync-func.azurewebsites.net \\
        [--name "Contoso CRM"] [--icon logo-192.png] [--app-id <GUID>] [--office cdn|local] [--out build/addin]

The task pane is served by the exsync Function App at ``<base-url>/api/addin/static/pane/index.html``,
so the backend URL is the pane's origin too. ``--office local`` points the pane at the Office.js
copy vendored by ``scripts/vendor_addin.py`` (offline development); the default is Microsoft's CDN.
The app id must stay the same across updates of one deployment (give it once, keep it).
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "addin" / "assets"
MANIFEST_VERSION = "1.24"
SCHEMA_URL = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
DEFAULT_APP_ID = "7d1e4f0a-3c2b-4e5f-9a61-8b0c2d4e6f10"  # development only: give each deployment its own
VERSION = "1.0.0"
ACCENT = "#1F6FB5"
MAILBOX_MIN = "1.5"  # convertToRestId, saveAsync and officeTheme


class BuildError(ValueError):
    """A bad option; the message names it and the fix."""


def _check_base(url: str) -> str:
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1")
    if parts.scheme != "https" and not local:
        raise BuildError(f"--base-url {url}: Outlook loads add-in pages over https only; give the https URL")
    if not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise BuildError(f"--base-url {url}: give the Function App's origin only, e.g. https://exsync.example.com")
    return f"{parts.scheme}://{parts.netloc}"


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise BuildError("--icon: not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def manifest(*, base_url: str, name: str, app_id: str, office: str = "cdn", developer: str = "exsync",
             version: str = VERSION) -> dict[str, Any]:
    """The unified manifest: one task pane on the read and compose surfaces of Outlook."""
    base = _check_base(base_url)
    if len(name) > 30 or not name.strip():
        raise BuildError(f"--name {name!r}: 1 to 30 characters (the manifest's short name)")
    try:
        uuid.UUID(app_id)
    except ValueError as exc:
        raise BuildError(f"--app-id {app_id!r}: expected a GUID (generate one with uuidgen)") from exc
    static = f"{base}/api/addin/static"
    page = f"{static}/pane/index.html" + ("?office=local" if office == "local" else "")
    icons = [{"size": s, "url": f"{static}/assets/icon-{s}.png"} for s in (16, 32, 80)]
    mailbox = {"scopes": ["mail"], "capabilities": [{"name": "Mailbox", "minVersion": MAILBOX_MIN}]}

    def group(context: str, label: str) -> dict[str, Any]:
        ident = "Read" if context == "mailRead" else "Compose"
        return {"contexts": [context], "tabs": [{"builtInTabId": "TabDefault", "groups": [{
            "id": f"exsync{ident}Group", "label": name[:64], "icons": icons,
            "controls": [{"id": f"exsync{ident}Open", "type": "button", "label": label[:64], "icons": icons,
                          "supertip": {"title": label[:64],
                                       "description": "See where this mail is filed in the ERP and file it."},
                          "actionId": "openExsyncPane"}]}]}]}

    return {
        "$schema": SCHEMA_URL, "manifestVersion": MANIFEST_VERSION, "version": version, "id": app_id,
        "name": {"short": name, "full": f"{name}: ERP records for Outlook"[:100]},
        "description": {
            "short": "The ERP's contacts, cases and opportunities beside your mail.",
            "full": ("Shows the sender's and recipients' ERP records and where the conversation is filed; "
                     "files the mail to a contact, case, opportunity or lead; creates records prefilled "
                     "from the mail; opens them in the ERP. The pane sends only message ids: exsync reads "
                     "the mail through Microsoft Graph.")},
        "developer": {"name": developer, "websiteUrl": f"{base}/",
                      "privacyUrl": f"{base}/api/addin/static/pane/privacy.html",
                      "termsOfUseUrl": f"{base}/api/addin/static/pane/privacy.html"},
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "validDomains": [urlsplit(base).netloc],
        "authorization": {"permissions": {"resourceSpecific": [
            {"name": "MailboxItem.ReadWrite.User", "type": "Delegated"}]}},
        "extensions": [{
            "requirements": mailbox,
            "runtimes": [{"requirements": mailbox, "id": "exsyncPaneRuntime", "type": "general",
                          "code": {"page": page}, "lifetime": "short",
                          "actions": [{"id": "openExsyncPane", "type": "openPage", "pinnable": True,
                                       "view": "dashboard"}]}],
            "ribbons": [group("mailRead", "ERP records"), group("mailCompose", "ERP records")],
        }],
    }


def build(out: Path, *, base_url: str, name: str, app_id: str, office: str, icon: Path | None) -> Path:
    """Write ``manifest.json``, ``color.png``, ``outline.png`` and the zip; returns the zip."""
    data = manifest(base_url=base_url, name=name, app_id=app_id, office=office)
    color = icon.read_bytes() if icon else (ASSETS / "color.png").read_bytes()
    if png_size(color) != (192, 192):
        raise BuildError(f"--icon {icon}: the colour icon must be 192x192 pixels, not {png_size(color)}")
    out.mkdir(parents=True, exist_ok=True)
    files = {"manifest.json": (json.dumps(data, indent=2) + "\n").encode(), "color.png": color,
             "outline.png": (ASSETS / "outline.png").read_bytes()}
    for file, content in files.items():
        (out / file).write_bytes(content)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "addin"
    package = out / f"{slug}-outlook-addin.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        for file, content in files.items():
            archive.writestr(file, content)
    return package


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the Function App's https origin")
    parser.add_argument("--name", default="exsync", help="short name shown in Outlook (≤ 30 characters)")
    parser.add_argument("--icon", type=Path, help="a 192x192 PNG colour icon (default: exsync's)")
    parser.add_argument("--app-id", default=DEFAULT_APP_ID, help="the add-in's GUID (keep it per deployment)")
    parser.add_argument("--office", choices=("cdn", "local"), default="cdn", help="where the pane loads Office.js")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "addin")
    args = parser.parse_args(argv)
    try:
        package = build(args.out, base_url=args.base_url, name=args.name, app_id=args.app_id,
                        office=args.office, icon=args.icon)
    except (BuildError, OSError) as exc:
        print(f"make addin: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out / 'manifest.json'} and {package}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
