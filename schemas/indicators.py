"""Indicator normalisation, keyed hashing and complaint-text fingerprints (docs/ARCHITECTURE.md §2).

Two members only match on an indicator when they hash the *same* canonical
string, so every kind has one documented normal form, and input that has none
(an unparseable phone number, an ID with a wrong checksum) is an error instead
of a silent hash of garbage.

Error messages never repeat a raw identifier: they may end up in logs, so they
show at most its last two characters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable

import phonenumbers
from phonenumbers import shortnumberinfo

from schemas.enums import IndicatorKind

__all__ = [
    "HASHED_VALUE_PATTERN",
    "HMAC_KINDS",
    "IDENTITY_KINDS",
    "SHORT_CODE_PREFIX",
    "InvalidIndicator",
    "check_hashed_value",
    "hash_indicator",
    "hash_normalized",
    "key_audience",
    "normalize",
    "normalize_complaint_text",
    "normalize_phone",
    "keyed_simhash64",
    "simhash64",
    "simhash_distance",
]

HMAC_KINDS: frozenset[IndicatorKind] = frozenset(IndicatorKind) - {IndicatorKind.COMPLAINT_TEXT}
"""Kinds whose wire value is the 64-hex HMAC of the canonical form."""

IDENTITY_KINDS: frozenset[IndicatorKind] = frozenset(IndicatorKind) - {IndicatorKind.PHONE}
"""Kinds hashed under an epoch's identity key, which only approved members receive.

ID numbers, e-mail addresses, bank accounts and devices are small enough spaces
to enumerate; the phone key that screeners hold must not open them (issue 14).
complaint-text fingerprints are keyed with it too (`schemas.fingerprint`), so
nobody without the identity key can test a guessed text against a fingerprint.
"""


def key_audience(kind: IndicatorKind | str) -> str:
    """`"identity"` or `"phone"`: which of an epoch's two keys hashes `kind`."""
    return "identity" if _kind(kind) in IDENTITY_KINDS else "phone"

MIN_KEY_BYTES = 16


class InvalidIndicator(ValueError):  # noqa: N818 - public name fixed by the design
    """A raw indicator has no canonical form, or a wire value is not of the hashed form."""


def _mask(raw: str) -> str:
    """`raw` reduced to its length and last two characters, safe to log."""
    visible = "".join(ch for ch in raw if not ch.isspace())
    if len(visible) <= 2:
        return "*" * len(visible)
    return "*" * (len(visible) - 2) + visible[-2:]


# --------------------------------------------------------------------------- phone

_CN_MOBILE = re.compile(
    phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern
)
"""The installed phonenumbers' own CN mobile pattern: a fast-path match is valid by definition."""

_CN_COMMON_FORM = re.compile(r"(?:\+86 ?|0086)?(1[0-9]{2})[ -]?([0-9]{4})[ -]?([0-9]{4})", re.ASCII)
"""The everyday mainland mobile spellings: 13812345678, +86 138 1234 5678, 138-1234-5678, 0086..."""


def _phone_fast(raw: str, region: str) -> str | None:
    """E.164 for a common mainland mobile spelling, or None to use phonenumbers.

    Only numbers that phonenumbers' own CN mobile pattern accepts take this path,
    so the answer is identical (tests/schemas check it with Hypothesis); anything
    else, including invalid prefixes like 12x, falls through to the full parser.
    """
    if region != "CN":
        return None
    m = _CN_COMMON_FORM.fullmatch(raw.strip())
    if m is None:
        return None
    national = m.group(1) + m.group(2) + m.group(3)
    if _CN_MOBILE.fullmatch(national) is None:
        return None
    return "+86" + national


SHORT_CODE_PREFIX = "cn-short:"
"""Canonical prefix of a mainland service short code (`cn-short:95588`).

Short codes are not E.164 numbers (`+8695588` does not exist and cannot be
dialled), so they get a form that no full number can take: no full number's
canonical form starts with a letter.
"""

_EXT_WORDS = re.compile(r"\s*(?:转|轉|分机|分機)\s*")
"""Chinese extension markers, rewritten to the " ext. " that phonenumbers reads."""

_SMS_CODE = re.compile(r"106[0-9]{5,17}", re.ASCII)
"""106 SMS-gateway codes (1069..., 1065...): outbound-only, 8-20 digits, not in phonenumbers."""

_SHORT_SEPARATORS = re.compile(r"[\s\-()]")


def _phone_short(raw: str, text: str, number: phonenumbers.PhoneNumber) -> str:
    """`cn-short:<digits>` for a mainland service code, or InvalidIndicator.

    Only codes phonenumbers' CN short-number metadata calls valid (95xxx, 96xxx,
    10xxx, 12xxx, ...) and 106 SMS codes written without a country code qualify:
    an unknown short code is refused rather than hashed, and a short code has
    no extensions.
    """
    digits = phonenumbers.national_significant_number(number)
    known = number.country_code == 86 and shortnumberinfo.is_valid_short_number_for_region(
        number, "CN"
    )
    written = "".join(ch for ch in text if ch.isdigit())
    sms = written == digits and _SMS_CODE.fullmatch(digits) is not None
    if not (known or sms):
        raise InvalidIndicator(f"invalid phone number {_mask(raw)} (not a known service code)")
    if number.extension:
        raise InvalidIndicator(f"service code {_mask(raw)} cannot have an extension")
    return SHORT_CODE_PREFIX + digits


def _phone_slow(raw: str, region: str) -> str:
    text = _EXT_WORDS.sub(" ext. ", unicodedata.normalize("NFKC", raw))
    short_form = text.strip().startswith(SHORT_CODE_PREFIX)
    if short_form:
        text = _SHORT_SEPARATORS.sub("", text.strip()[len(SHORT_CODE_PREFIX) :])
    try:
        number = phonenumbers.parse(text, "CN" if short_form else region)
    except phonenumbers.NumberParseException:
        raise InvalidIndicator(f"unparseable phone number {_mask(raw)}") from None
    if short_form or not phonenumbers.is_valid_number(number):
        return _phone_short(raw, text, number)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={number.extension}" if number.extension else e164


def normalize_phone(raw: str, region: str = "CN") -> str:
    """One canonical form per number (docs/FORMATS.md "Canonical forms").

    E.164 (`+8613812345678`) for full numbers, national numbers read in
    `region`; `;ext=123` appended for an extension; `cn-short:95588` for a
    mainland service or 106 SMS code. Each output normalises to itself.
    """
    if not isinstance(raw, str):
        raise InvalidIndicator("phone number must be a string")
    return _phone_fast(raw, region) or _phone_slow(raw, region)


# ---------------------------------------------------------------------- id number

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_FORM = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)


def normalize_id_number(raw: str) -> str:
    """An 18-character PRC resident ID (GB 11643-1999): checksum and birth date verified.

    The birth date is checked as a calendar date from 1900 on, not against today,
    so that normalisation does not depend on the clock.
    """
    value = raw.strip().upper()
    if _ID_FORM.fullmatch(value) is None:
        raise InvalidIndicator(f"id number {_mask(raw)} is not 17 digits plus a check character")
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        raise InvalidIndicator(f"id number {_mask(raw)} has a wrong check character")
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIndicator(f"id number {_mask(raw)} has an invalid birth date") from None
    if born.year < 1900:
        raise InvalidIndicator(f"id number {_mask(raw)} has an invalid birth date")
    return value


# -------------------------------------------------------------------------- email

_EMAIL_FORBIDDEN = re.compile(r"[\s<>()\[\],;:\"\\]")


def normalize_email(raw: str) -> str:
    """Trimmed and entirely lower-cased e-mail address.

    RFC 5321 lets the local part be case-sensitive, but no mainstream provider
    treats it so, and banks type addresses in whatever case a customer wrote:
    lower-casing the local part too makes the same mailbox match across members.
    """
    value = raw.strip()
    if value.count("@") != 1:
        raise InvalidIndicator(f"e-mail address {_mask(raw)} must contain exactly one @")
    local, domain = value.split("@")
    if not local or not domain or "." not in domain.strip("."):
        raise InvalidIndicator(f"e-mail address {_mask(raw)} needs a local part and a domain")
    if len(value) > 254 or _EMAIL_FORBIDDEN.search(value):
        raise InvalidIndicator(f"e-mail address {_mask(raw)} contains forbidden characters")
    return f"{local.lower()}@{domain.lower()}"


# ------------------------------------------------------------------- bank account

_ACCOUNT_SEPARATORS = re.compile(r"[ \-]")
_ACCOUNT_FORM = re.compile(r"[0-9]{12,19}", re.ASCII)


def normalize_bank_account(raw: str) -> str:
    """Bank account or card number: spaces and hyphens removed, 12-19 digits.

    No Luhn check: UnionPay card numbers carry one, but many mainland account
    (passbook and corporate) numbers do not, and rejecting them would lose reports.
    """
    value = _ACCOUNT_SEPARATORS.sub("", raw.strip())
    if _ACCOUNT_FORM.fullmatch(value) is None:
        raise InvalidIndicator(f"bank account {_mask(raw)} must be 12-19 digits")
    return value


# ------------------------------------------------------------------------- device

_DEVICE_FORM = re.compile(r"[0-9a-z:_\-]{8,128}", re.ASCII)


def normalize_device(raw: str) -> str:
    """Device identifier (IMEI, MAC, UUID, vendor id): trimmed, lower-case, 8-128 of [0-9a-z:_-]."""
    value = raw.strip().lower()
    if _DEVICE_FORM.fullmatch(value) is None:
        raise InvalidIndicator(
            f"device id {_mask(raw)} must be 8-128 characters of 0-9, a-z, ':', '_' or '-'"
        )
    return value


# ---------------------------------------------------------------------- group tag


def _fixpoint(raw: str, step: Callable[[str], str]) -> str:
    """Apply `step` until the text stops changing, so normalising twice changes nothing.

    One NFKC + lower-case pass is not always stable: removing a space or
    lower-casing can leave a base letter next to a combining mark that NFKC would
    then compose ("O\u00a8" -> "o\u0308" -> "\u00f6"). Input that has not settled
    after a few passes is refused rather than hashed in an unstable form.
    """
    value = step(raw)
    for _ in range(4):
        again = step(value)
        if again == value:
            return value
        value = again
    raise InvalidIndicator("text has no stable normal form")


_SPACES = re.compile(r"\s+")


def normalize_group_tag(raw: str) -> str:
    """Free-form tag for a complaint group: NFKC, lower-case, trimmed, inner whitespace
    collapsed to one space, 1-64 characters, no control characters."""

    def once(v: str) -> str:
        return _SPACES.sub(" ", unicodedata.normalize("NFKC", v).lower()).strip()

    value = _fixpoint(raw, once)
    if not 1 <= len(value) <= 64:
        raise InvalidIndicator("group tag must be 1-64 characters after normalisation")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value):
        raise InvalidIndicator("group tag must not contain control or unassigned characters")
    return value


# ------------------------------------------------------------------ complaint text

_TEXT_DROP = ("Z", "P", "S", "C")
"""Unicode category prefixes removed from complaint text: separators, punctuation,
symbols and control characters, so spacing and punctuation edits of a template match."""


def normalize_complaint_text(raw: str) -> str:
    """NFKC, lower-case, with whitespace, punctuation and symbols removed."""

    def once(v: str) -> str:
        text = unicodedata.normalize("NFKC", v).lower()
        return "".join(ch for ch in text if unicodedata.category(ch)[0] not in _TEXT_DROP)

    return _fixpoint(raw, once)


# --------------------------------------------------------------------- dispatch

_NORMALIZERS: dict[IndicatorKind, Callable[[str], str]] = {
    IndicatorKind.ID_NUMBER: normalize_id_number,
    IndicatorKind.EMAIL: normalize_email,
    IndicatorKind.BANK_ACCOUNT: normalize_bank_account,
    IndicatorKind.DEVICE: normalize_device,
    IndicatorKind.GROUP_TAG: normalize_group_tag,
    IndicatorKind.COMPLAINT_TEXT: normalize_complaint_text,
}


def _kind(kind: IndicatorKind | str) -> IndicatorKind:
    try:
        return IndicatorKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in IndicatorKind)
        msg = f"unknown indicator kind {kind!r}; expected one of {known}"
        raise InvalidIndicator(msg) from None


def normalize(kind: IndicatorKind | str, raw: str, region: str = "CN") -> str:
    """The canonical form of `raw` for its kind (`region` only matters for phones)."""
    k = _kind(kind)
    if not isinstance(raw, str):
        raise InvalidIndicator(f"{k.value} must be given as a string")
    if k is IndicatorKind.PHONE:
        return normalize_phone(raw, region)
    return _NORMALIZERS[k](raw)


def hash_normalized(kind: IndicatorKind | str, canonical: str, key: bytes) -> str:
    """HMAC-SHA256(key, kind + ":" + canonical) as 64 lowercase hex: the wire value."""
    k = _kind(kind)
    if k not in HMAC_KINDS:
        raise InvalidIndicator("complaint_text is fingerprinted with simhash64, not HMAC")
    if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_BYTES:
        raise InvalidIndicator(f"the consortium key must be at least {MIN_KEY_BYTES} bytes")
    return hmac.new(bytes(key), f"{k.value}:{canonical}".encode(), hashlib.sha256).hexdigest()


def hash_indicator(kind: IndicatorKind | str, raw: str, key: bytes, region: str = "CN") -> str:
    """Normalise `raw` and return its keyed hash; raises InvalidIndicator for bad input."""
    return hash_normalized(kind, normalize(kind, raw, region), key)


# ------------------------------------------------------------------ hashed forms

_HEX64 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_HEX16 = re.compile(r"[0-9a-f]{16}", re.ASCII)

HASHED_VALUE_PATTERN: dict[IndicatorKind, re.Pattern[str]] = {
    k: (_HEX16 if k is IndicatorKind.COMPLAINT_TEXT else _HEX64) for k in IndicatorKind
}
"""What the hub accepts as `value` per kind; anything else may be a raw identifier."""

_DESCRIBE = {
    IndicatorKind.PHONE: "phone number",
    IndicatorKind.ID_NUMBER: "ID number",
    IndicatorKind.EMAIL: "e-mail address",
    IndicatorKind.BANK_ACCOUNT: "bank account number",
    IndicatorKind.DEVICE: "device id",
    IndicatorKind.GROUP_TAG: "group tag",
}
_LOOKS_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]{5,20}", re.ASCII)
_LOOKS_ID = re.compile(r"[0-9]{17}[0-9Xx]", re.ASCII)
_LOOKS_ACCOUNT = re.compile(r"[0-9][0-9 \-]{10,24}", re.ASCII)


def _looks_raw(value: str) -> str | None:
    v = value.strip()
    if "@" in v:
        return "an e-mail address"
    if _LOOKS_ID.fullmatch(v):
        return "an ID number"
    digits = sum(ch.isdigit() for ch in v)
    if _LOOKS_PHONE.fullmatch(v) and 6 <= digits <= 15:
        return "a phone number"
    if _LOOKS_ACCOUNT.fullmatch(v):
        return "a bank account number"
    return None


def check_hashed_value(kind: IndicatorKind | str, value: object) -> None:
    """Refuse a wire `value` that is not of the hashed form for `kind`.

    The message tells the sender how to fix it and, when the value looks like a
    raw identifier, says so - without repeating it.
    """
    k = _kind(kind)
    if isinstance(value, str) and HASHED_VALUE_PATTERN[k].fullmatch(value):
        return
    if k is IndicatorKind.COMPLAINT_TEXT:
        what = "value must be the 16-hex SimHash of the normalised complaint text"
        fix = "fingerprint it with client_sdk.simhash64 before sending"
    else:
        what = f"value must be the 64-hex HMAC of the normalised {_DESCRIBE[k]}"
        fix = "hash it with client_sdk.hash_indicator before sending"
    if not isinstance(value, str):
        raise InvalidIndicator(f"{what}; {fix}")
    pattern = HASHED_VALUE_PATTERN[k]
    if pattern.fullmatch(value.lower()):
        raise InvalidIndicator(f"{what} in lowercase hex")
    raw = _looks_raw(value)
    if raw is not None:
        raise InvalidIndicator(f"looks like a raw {raw.split(' ', 1)[1]}: {fix} ({what})")
    raise InvalidIndicator(f"{what}; {fix}")


# The fingerprint code lives in one small module (issue 17 replaces SimHash there);
# imported last because it uses this module's normaliser.
from schemas.fingerprint import keyed_simhash64, simhash64, simhash_distance  # noqa: E402
