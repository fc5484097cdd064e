"""The Chinese catalog is complete and compiled: a console string without a translation,
a fuzzy (unreviewed) one, or a stale .mo fails here. Fix with `make translations`, then
translate the new entries in hub/translations/zh_Hans_CN/LC_MESSAGES/messages.po."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "hub" / "translations" / "zh_Hans_CN" / "LC_MESSAGES"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")


def source_messages() -> set[str]:
    """Every msgid `pybabel extract -F babel.cfg -k _l` finds in the console and its templates."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)
    ids = {message if isinstance(message, str) else message[0] for *_, message, _c, _x in found}
    return ids - {""}


def catalog() -> dict[str, tuple[str, bool]]:
    with open(CATALOG / "messages.po", "rb") as po:
        return {m.id: (m.string, m.fuzzy) for m in read_po(po) if m.id}


def test_extraction_finds_the_console() -> None:
    ids = source_messages()
    assert {"Sign in", "Debt collection abuse", "Application approved", "no data yet"} <= ids
    assert len(ids) > 200


def test_every_console_string_has_a_reviewed_chinese_translation() -> None:
    translated = catalog()
    untranslated = sorted(i for i in source_messages() if not translated.get(i, ("", False))[0])
    fuzzy = sorted(i for i, (_s, is_fuzzy) in translated.items() if is_fuzzy)
    assert not untranslated, f"no zh translation (run `make translations`): {untranslated}"
    assert not fuzzy, f"fuzzy (unreviewed) translations: {fuzzy}"


def test_translations_keep_their_placeholders_and_are_chinese() -> None:
    for msgid, (msgstr, _fuzzy) in catalog().items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), msgid
        if re.search(r"[A-Za-z]{3}", PLACEHOLDER.sub("", msgid)):
            assert re.search(r"[\u4e00-\u9fff]", msgstr), (msgid, msgstr)


def test_no_obsolete_translations_linger() -> None:
    stale = sorted(set(catalog()) - source_messages())
    assert not stale, f"translations for strings no longer in the source: {stale}"


def test_the_committed_mo_is_the_compiled_po() -> None:
    mo = CATALOG / "messages.mo"
    if not mo.exists():
        pytest.fail(f"{mo} is missing: run `make translations`")
    with open(mo, "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    entries = {k: v for k, v in compiled._catalog.items() if k}  # type: ignore[attr-defined]
    expected = {msgid: msgstr for msgid, (msgstr, fuzzy) in catalog().items() if not fuzzy}
    assert entries == expected, "messages.mo is stale: run `make translations`"
