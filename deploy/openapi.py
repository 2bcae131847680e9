"""Export every service's OpenAPI document to contracts/openapi/<service>.json (`make contracts`).

`check` compares the committed documents with what the code serves now, so that a changed route
cannot go unnoticed: run `make contracts` and commit the diff when the change is meant.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "contracts" / "openapi"

# service folder -> module whose create_app() builds its Litestar app without connecting anywhere.
SERVICES = {
    "auth": "codex_auth.app",
    "catalog": "codex_catalog.app",
    "upload": "codex_upload.app",
    "media-dispatch": "codex_media_dispatch.app",
    "purchase": "codex_purchase.app",
    "runpod-local": "codex_runpod_local.app",
    "stripe-local": "codex_stripe_local.app",
}


def built(name: str, module: str) -> bool:
    """The service's app module exists (services/ or deploy/stand-ins/): nothing here is a stub."""
    relative = Path(*module.split(".")).with_suffix(".py")
    return any((ROOT / home / name / relative).is_file() for home in ("services", "deploy/stand-ins"))


def documents(only: set[str] | None = None) -> dict[str, str]:
    """Each built service's OpenAPI document (or those named in `only`) as stable JSON text."""
    out = {}
    for name, module in SERVICES.items():
        if not built(name, module) or (only and name not in only):
            continue
        app = importlib.import_module(module).create_app()
        schema = app.openapi_schema.to_schema()
        out[name] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["write", "check"])
    parser.add_argument("services", nargs="*", help="only these services (default: every built one)")
    args = parser.parse_args()
    stale = []
    for name, text in documents(set(args.services)).items():
        path = OUT / f"{name}.json"
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        if args.command == "write":
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote    {path.relative_to(ROOT)}")
        else:
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(), str(path), "served", n=1)
            stale.append(
                f"{path.relative_to(ROOT)} differs from what {name} serves:\n" + "\n".join(list(diff)[:40])
            )
    for message in stale:
        print(message, file=sys.stderr)
    if stale:
        print("run `make contracts` and commit the OpenAPI documents", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
