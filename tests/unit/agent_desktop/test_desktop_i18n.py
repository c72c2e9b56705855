"""The desktop's one string catalogue (agent_desktop/locales/*.json): Vietnamese and English say the
same things, every error id the product can answer with has a translation, and the loader takes a
new language from one file (falling back to English) or says clearly why it cannot."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from agent_desktop.i18n import CATALOGUE, LOCALES, Catalogue, CatalogueError

REPO = Path(__file__).resolve().parents[3]
# Every top-level Python package of the repository (a package added later is scanned too).
PRODUCT = sorted(d.name for d in REPO.iterdir() if (d / "__init__.py").is_file() and d.name != "bench")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def leaves(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "errors":
            out |= leaves(v, f"{prefix}{k}.")
        elif isinstance(v, dict):  # error ids hold dots themselves
            out |= {f"{prefix}{k}[{code}]": text for code, text in v.items()}
        else:
            out[prefix + k] = v
    return out


def raw(lang: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def error_ids_in_code() -> set[str]:
    """Every ``error_id = "..."`` class attribute and every ``"code": "..."`` in a dict literal of
    the product code: the ids the HTTP and websocket edges can answer with."""
    ids: set[str] = set()
    for package in PRODUCT:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                    if any(isinstance(t, ast.Name) and t.id == "error_id" for t in node.targets):
                        ids.add(str(node.value.value))
                elif isinstance(node, ast.Dict):
                    for k, v in zip(node.keys, node.values, strict=True):
                        if (
                            isinstance(k, ast.Constant)
                            and k.value == "code"
                            and isinstance(v, ast.Constant)
                            and isinstance(v.value, str)
                        ):
                            ids.add(v.value)
    return ids


def test_vietnamese_and_english_have_the_same_keys_and_placeholders() -> None:
    vi, en = leaves(raw("vi")), leaves(raw("en"))
    assert set(vi) == set(en), set(vi) ^ set(en)
    for key in vi:
        assert isinstance(vi[key], str) and vi[key].strip(), key
        assert isinstance(en[key], str) and en[key].strip(), key
        assert set(PLACEHOLDER.findall(vi[key])) == set(PLACEHOLDER.findall(en[key])), key


def test_every_error_id_the_product_answers_with_is_translated() -> None:
    ids = error_ids_in_code()
    # The scan finds the ids it must (a scan that found nothing would pass vacuously).
    assert {"ami.action_failed", "desktop.forbidden", "internal", "callback.dial_not_placed"} <= ids
    for lang in ("vi", "en"):
        missing = ids - set(CATALOGUE[lang]["errors"])
        assert not missing, f"{lang}.json lacks error texts for {sorted(missing)}"
    assert CATALOGUE["vi"]["errors"]["ami.action_failed"].startswith("Tổng đài (Asterisk) từ chối")


def test_an_unknown_error_id_reads_as_a_sentence_that_names_it() -> None:
    text = CATALOGUE.error_text("vi", "made.up")
    assert text != "made.up" and "made.up" in text and text.startswith("Có lỗi xảy ra")
    assert CATALOGUE.error_text("en", "ami.action_failed") == CATALOGUE["en"]["errors"]["ami.action_failed"]


def test_vietnamese_comes_first_then_english_and_each_offers_the_languages() -> None:
    assert list(CATALOGUE)[:2] == ["vi", "en"]
    assert CATALOGUE["en"]["languages"][:2] == [
        {"code": "vi", "name": "Tiếng Việt"},
        {"code": "en", "name": "English"},
    ]


def copy_locales(tmp_path: Path) -> Path:
    d = tmp_path / "locales"
    shutil.copytree(LOCALES, d)
    return d


def test_a_third_language_is_one_file_and_falls_back_to_english(tmp_path: Path) -> None:
    d = copy_locales(tmp_path)
    (d / "fr.json").write_text(
        json.dumps({"language": {"name": "Français"}, "login": "Connexion", "pop": {"ringing": "Appel"}}),
        encoding="utf-8",
    )
    cat = Catalogue(d)
    assert list(cat) == ["vi", "en", "fr"]
    fr = cat["fr"]
    assert fr["login"] == "Connexion" and fr["pop"]["ringing"] == "Appel"
    assert fr["pop"]["answered"] == "On call" and fr["password"] == "Password"  # English fills the rest
    assert {"code": "fr", "name": "Français"} in cat["vi"]["languages"]
    (d / "fr.json").write_text(
        json.dumps({"language": {"name": "Français", "fallback": "vi"}, "login": "Connexion"}),
        encoding="utf-8",
    )
    cat.reload()
    assert cat["fr"]["password"] == "Mật khẩu"


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("fr.json", "{not json", "fr.json"),
        ("fr.json", "[]", "must be a JSON object"),
        ("fr.json", '{"login": "x"}', '"language"'),
        ("Fr_FR.json", '{"language": {"name": "x"}}', "is not a language code"),
        ("fr.json", '{"language": {"name": "x", "fallback": "de"}}', "fallback 'de'"),
    ],
)
def test_a_bad_locale_file_is_a_clear_error(tmp_path: Path, name: str, content: str, says: str) -> None:
    d = copy_locales(tmp_path)
    (d / name).write_text(content, encoding="utf-8")
    with pytest.raises(CatalogueError, match=re.escape(says)):
        Catalogue(d)


def test_vietnamese_and_english_are_required(tmp_path: Path) -> None:
    d = copy_locales(tmp_path)
    (d / "en.json").unlink()
    with pytest.raises(CatalogueError, match="missing for \\['en'\\]"):
        Catalogue(d)
