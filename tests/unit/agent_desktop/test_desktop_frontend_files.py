"""The desktop's front-end files: the vendored npm libraries are the pinned versions, byte for byte,
with their licences; the pages hold no inline script, handler or style (they declare a CSP that
forbids them); the JS builds no HTML from strings and has no ``window.*`` hooks."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
FRONTEND = REPO / "frontend"
STATIC = REPO / "agent_desktop" / "static"
TEMPLATES = REPO / "agent_desktop" / "templates"


def test_vendored_files_are_the_pinned_packages_with_their_licences() -> None:
    manifest = json.loads((FRONTEND / "package.json").read_text())
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    vendored = json.loads((FRONTEND / "vendored.json").read_text())
    pins = {**manifest["dependencies"], **manifest["devDependencies"]}
    # esbuild is a build tool (it bundles JsSIP's CommonJS modules): pinned, never vendored.
    assert set(vendored) == set(pins) - {"esbuild"} == {"lit-html", "axe-core", "jssip"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", pins["esbuild"]), "esbuild must be pinned exactly"
    for pkg, entry in vendored.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", pins[pkg]), f"{pkg} must be pinned exactly"
        assert entry["version"] == pins[pkg] == lock["packages"][f"node_modules/{pkg}"]["version"]
        assert any(Path(f).name == "LICENSE" for f in entry["files"]), pkg
        for rel, digest in entry["files"].items():
            assert hashlib.sha256((REPO / rel).read_bytes()).hexdigest() == digest, rel
    # axe-core is test support only: never served.
    assert not list(STATIC.rglob("axe*"))
    assert all(f.startswith("tests/browser/vendor/") for f in vendored["axe-core"]["files"])


def test_pages_hold_no_inline_script_handler_or_style() -> None:
    for page in TEMPLATES.glob("*.html"):
        text = page.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert 'type="module" src="/static/' in tag or 'type="application/json"' in tag, (page, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), page
        assert not re.search(r"\sstyle\s*=", text), page
    base = (TEMPLATES / "_base.html").read_text()
    assert "script-src 'self'" in base and "style-src 'self'" in base


def test_js_builds_no_html_from_strings_and_has_no_window_hooks() -> None:
    for js in [*STATIC.glob("*.js"), *(STATIC / "lib").glob("*.js")]:
        text = js.read_text()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "window.", "eval("):
            assert banned not in text, (js.name, banned)
        assert not re.search(r"\son[a-z]+=", text), js.name  # no inline handlers in templates either
        assert not re.search(r"\sstyle=", text), js.name
