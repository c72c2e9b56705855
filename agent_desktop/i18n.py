"""The desktop's one string catalogue: a JSON file per language in ``agent_desktop/locales/``.

The jinja2 pages read a language's strings as ``t`` and embed the same dict as a JSON block
(``<script type="application/json" id="i18n">``) that the page's ES modules read, so the Python and
the JS never keep strings of their own. Adding a language is adding one file ``<code>.json``;
keys it lacks come from its ``language.fallback`` (English unless it says otherwise). Vietnamese
comes first, English second, any other language after them in code order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import ConfigError

LOCALES = Path(__file__).with_name("locales")
FIRST = ("vi", "en")
DEFAULT_FALLBACK = "en"
# A BCP 47 primary language subtag (ISO 639), optionally with a region or script: "vi", "en", "zh-Hant".
_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class CatalogueError(ConfigError):
    """A locale file that cannot be used (bad JSON, bad code, unknown fallback)."""


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CatalogueError(f"locale file {path}: {err}") from err
    if not isinstance(data, dict):
        raise CatalogueError(f"locale file {path}: the top level must be a JSON object")
    name = data.get("language", {}).get("name") if isinstance(data.get("language"), dict) else None
    if not isinstance(name, str) or not name:
        raise CatalogueError(f'locale file {path}: "language": {{"name": ...}} is required')
    return data


class Catalogue(dict[str, dict[str, Any]]):
    """Languages by code → that language's strings (fallbacks merged in, plus ``languages``: the
    list of ``{code, name}`` a page offers in its language switch). A dict, read-only by use."""

    def __init__(self, *directories: Path) -> None:
        super().__init__()
        self.directories = directories or (LOCALES,)
        self.reload()

    def reload(self) -> None:
        """Read the locale files again (after a file was added or changed)."""
        raw: dict[str, dict[str, Any]] = {}
        for directory in self.directories:
            for path in sorted(directory.glob("*.json")):
                if not _CODE.match(path.stem):
                    raise CatalogueError(f"locale file {path}: {path.stem!r} is not a language code")
                raw[path.stem] = _read(path)
        missing = [code for code in FIRST if code not in raw]
        if missing:
            raise CatalogueError(f"locale files missing for {missing} in {list(map(str, self.directories))}")
        order = [*FIRST, *sorted(set(raw) - set(FIRST))]
        offered = [{"code": code, "name": raw[code]["language"]["name"]} for code in order]
        texts: dict[str, dict[str, Any]] = {}
        for code in order:
            texts[code] = {**self._resolve(code, raw, ()), "languages": offered}
        self.clear()
        self.update(texts)

    def _resolve(self, code: str, raw: dict[str, dict[str, Any]], seen: tuple[str, ...]) -> dict[str, Any]:
        data = raw[code]
        fallback = data["language"].get("fallback", None if code in FIRST else DEFAULT_FALLBACK)
        if fallback is None:
            return data
        if fallback not in raw or fallback in (*seen, code):
            raise CatalogueError(f"locale {code!r}: fallback {fallback!r} is not a usable language")
        return _merge(self._resolve(fallback, raw, (*seen, code)), data)

    def error_text(self, lang: str, code: str) -> str:
        """What the agent reads for an error id: its translation, or a generic message with the id."""
        t = self[lang]
        text = t["errors"].get(code)
        return str(text) if text else str(t["error_fallback"]).format(code=code)


CATALOGUE = Catalogue()
