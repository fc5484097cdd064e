"""The console's language: Simplified Chinese by default, English on request.

Why Chinese first: the console's users are association admins in mainland
China. English is chosen by a `?lang=en` switch (remembered in a cookie for a
year) or by a browser whose `Accept-Language` ranks English above Chinese.
Only the HTML console is translated; `/v1` JSON stays English for machines.
Catalogs live in `hub/translations` (source strings in English, `babel.cfg`
for extraction; `make translations` re-extracts and compiles).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Flask, Response, g, request, url_for
from flask_babel import Babel, format_datetime, get_locale

from schemas.timefmt import parse_time

CHINESE = "zh_CN"
ENGLISH = "en"
LANGUAGES = (CHINESE, ENGLISH)
LANG_COOKIE = "lianfang_lang"
LANG_PARAM = "lang"
_COOKIE_MAX_AGE_S = 365 * 24 * 3600
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
# Accept-Language tags as browsers send them, mapped to the two catalogs.
_ACCEPT = {"zh": CHINESE, "zh-cn": CHINESE, "zh-hans": CHINESE, "zh-hans-cn": CHINESE,
           "zh-sg": CHINESE, "en": ENGLISH}


def _normalise(raw: str | None) -> str | None:
    if not raw:
        return None
    tag = raw.strip().replace("_", "-").lower()
    return _ACCEPT.get(tag) or (ENGLISH if tag.startswith("en-") else None)


def select_locale() -> str:
    """`?lang=`, then the cookie, then Accept-Language (best of zh/en), else Chinese."""
    chosen = _normalise(request.args.get(LANG_PARAM))
    if chosen:
        g.console_lang_switch = chosen
        return chosen
    remembered = _normalise(request.cookies.get(LANG_COOKIE))
    if remembered:
        return remembered
    for tag, _quality in request.accept_languages:  # sorted best first
        match = _normalise(tag)
        if match:
            return match
    return CHINESE


def remember_language(response: Response) -> Response:
    """Persist a `?lang=` switch so every later page keeps the language."""
    chosen = g.get("console_lang_switch")
    if chosen and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(
            LANG_COOKIE, chosen, max_age=_COOKIE_MAX_AGE_S, path="/console",
            secure=request.is_secure, httponly=True, samesite="Lax",
        )
    return response


def html_lang() -> str:
    """The `<html lang>` value: a BCP 47 tag (`zh-CN`, `en`)."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh-CN"


def language_switch() -> dict[str, str]:
    """The in-page switch to the other language: this page again with `?lang=`.

    After a POST (an error page) or outside a console route there is no page to
    repeat, so the switch leads to the dashboard (or the sign-in page from there).
    """
    target, name, tag = (CHINESE, "中文", "zh-CN") if html_lang() == "en" else (
        ENGLISH, "English", "en")
    endpoint = request.endpoint
    if request.method == "GET" and endpoint and endpoint.startswith("console."):
        values = {**request.args.to_dict(), **(request.view_args or {})}
    else:
        endpoint, values = "console.dashboard", {}
    values.pop("notice", None)
    values[LANG_PARAM] = target
    return {"url": url_for(endpoint, **values), "name": name, "tag": tag}


def when(moment: datetime | str | None) -> str:
    """A timestamp (datetime or the protocol's ISO text) in the locale's medium format."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        try:
            moment = parse_time(moment)
        except ValueError:
            return moment
    return format_datetime(moment, "medium")


def init_babel(app: Flask) -> None:
    """Flask-Babel on the app, reading `hub/translations`; times shown in UTC."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", CHINESE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select_locale)
