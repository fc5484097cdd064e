"""Indicator normalisation, keyed hashing, SimHash, hashed-form checks (docs/ARCHITECTURE.md §2)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import client_sdk
from schemas.enums import IndicatorKind
from schemas.indicators import (
    HASHED_VALUE_PATTERN,
    HMAC_KINDS,
    InvalidIndicator,
    _phone_fast,
    _phone_slow,
    check_hashed_value,
    hash_indicator,
    hash_normalized,
    normalize,
    normalize_phone,
    simhash64,
    simhash_distance,
)

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "indicators.json").read_text(encoding="utf-8")
)
KEY = bytes.fromhex(VECTORS["key_hex"])


# ------------------------------------------------------------------------ vectors


@pytest.mark.parametrize("case", VECTORS["hashes"], ids=lambda c: f"{c['kind']}:{c['canonical']}")
def test_hash_vectors(case: dict) -> None:
    assert normalize(case["kind"], case["raw"]) == case["canonical"]
    assert case["hmac_message"] == f"{case['kind']}:{case['canonical']}"
    # Recomputed with the standard library alone, as another implementation would.
    expected = hmac.new(KEY, case["hmac_message"].encode(), hashlib.sha256).hexdigest()
    assert case["value"] == expected
    assert hash_indicator(case["kind"], case["raw"], KEY) == expected
    assert client_sdk.hash_indicator(case["kind"], case["raw"], KEY) == expected


@pytest.mark.parametrize("case", VECTORS["simhash"], ids=lambda c: c["name"])
def test_simhash_vectors(case: dict) -> None:
    assert simhash64(case["text"]) == case["simhash"]


def test_simhash_near_duplicates_are_closer_than_unrelated_texts() -> None:
    def family(name: str) -> str:
        return name if name.startswith("unrelated") else name.split("_")[1]

    fp = {c["name"]: c["simhash"] for c in VECTORS["simhash"]}
    same, different = [], []
    for d in VECTORS["simhash_distances"]:
        assert simhash_distance(fp[d["a"]], fp[d["b"]]) == d["distance"]
        (same if family(d["a"]) == family(d["b"]) else different).append(d["distance"])
    assert same and different
    assert max(same) < min(different)
    assert max(same) <= 16


# ---------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    "raw",
    ["13812345678", "+8613812345678", "008613812345678", "138-1234-5678", "138 1234 5678",
     "+86 138 1234 5678", " 13812345678 ", "(0086) 138 1234 5678", "８６１３８１２３４５６７８"],
)
def test_phone_common_forms(raw: str) -> None:
    assert normalize_phone(raw) == "+8613812345678"
    assert client_sdk.normalize_phone(raw) == "+8613812345678"


def test_phone_other_numbers_use_phonenumbers() -> None:
    assert normalize_phone("010-6552 9988") == "+861065529988"
    assert normalize_phone("650-253-0000", region="US") == "+16502530000"
    assert normalize_phone("+44 20 7946 0958", region="US") == "+442079460958"


@pytest.mark.parametrize(
    "raw", ["12012345678", "10012345678", "1381234567", "138123456789", "", "abc", "+86",
            "1381234567a", "+86 120 1234 5678"]
)
def test_phone_invalid_is_a_clear_error_that_does_not_echo_the_number(raw: str) -> None:
    with pytest.raises(InvalidIndicator) as exc:
        normalize_phone(raw)
    message = str(exc.value)
    assert "phone number" in message
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) > 2:
        assert digits not in message
        assert digits[:-2] not in message.replace("*", "")


def test_phone_rejects_non_strings() -> None:
    with pytest.raises(InvalidIndicator):
        normalize_phone(13812345678)  # type: ignore[arg-type]


_SEPARATOR = st.sampled_from(["", " ", "-"])
_PREFIX = st.sampled_from(["", "+86", "+86 ", "0086", "0086 ", "86", "+852 ", "0"])


@st.composite
def mainland_like(draw: st.DrawFn) -> str:
    """Spellings around the fast path: every 1xx prefix, incl. ones phonenumbers rejects."""
    head = f"1{draw(st.integers(0, 99)):02d}"
    mid = f"{draw(st.integers(0, 9999)):04d}"
    tail = f"{draw(st.integers(0, 9999)):04d}"
    s1, s2 = draw(_SEPARATOR), draw(_SEPARATOR)
    body = f"{head}{s1}{mid}{s2}{tail}"
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))] + draw(st.sampled_from(["", "0", "x"]))
    return draw(_PREFIX) + body + draw(st.sampled_from(["", " ", "  "]))


def _outcome(fn, raw: str) -> str:
    try:
        return fn(raw, "CN")
    except InvalidIndicator:
        return "invalid"


@settings(max_examples=3000, deadline=None)
@given(mainland_like())
def test_phone_fast_path_agrees_with_phonenumbers(raw: str) -> None:
    fast = _phone_fast(raw, "CN")
    slow = _outcome(_phone_slow, raw)
    if fast is not None:
        assert fast == slow
    assert _outcome(normalize_phone, raw) == slow


def test_phone_fast_path_covers_every_valid_mainland_mobile_prefix() -> None:
    """Both directions: the fast path takes exactly what phonenumbers calls a valid number."""
    taken = 0
    for head in range(100, 200):
        for rest in ("00000000", "12345678", "99999999", "40012345"):
            national = f"{head}{rest}"
            slow = _outcome(_phone_slow, national)
            fast = _phone_fast(national, "CN")
            assert fast in (None, slow)
            if slow != "invalid" and phonenumbers.number_type(
                phonenumbers.parse(national, "CN")
            ) in (phonenumbers.PhoneNumberType.MOBILE,
                  phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
                assert fast == slow
                taken += 1
    assert taken > 100


# ------------------------------------------------------------------ other kinds

ACCEPT = [
    ("id_number", "11010519491231002x", "11010519491231002X"),
    ("id_number", "310115200002291235", "310115200002291235"),
    ("email", " Li.Si@Bank.Example.CN ", "li.si@bank.example.cn"),
    ("bank_account", "6222-0202 0000 1234", "6222020200001234"),
    ("bank_account", "123456789012", "123456789012"),
    ("device", " 3C:22:FB:01:AA:0E ", "3c:22:fb:01:aa:0e"),
    ("device", "864398041234567", "864398041234567"),
    ("group_tag", "  套路贷\t催收  ", "套路贷 催收"),
    ("group_tag", "ＡＢＣ", "abc"),
    ("complaint_text", "您好，  乱收费！", "您好乱收费"),
]

REJECT = [
    ("id_number", "110105194912310021", "check character"),
    ("id_number", "11010519491331002X", "check character"),
    ("id_number", "11010518991231002X", "check character"),
    ("id_number", "1101051949123100", "17 digits"),
    ("email", "no-at-sign.example.com", "exactly one @"),
    ("email", "a@b@example.com", "exactly one @"),
    ("email", "@example.com", "local part"),
    ("email", "someone@localhost", "domain"),
    ("email", "some one@example.com", "forbidden"),
    ("bank_account", "12345678901", "12-19 digits"),
    ("bank_account", "12345678901234567890", "12-19 digits"),
    ("bank_account", "6222 0202 abcd 1234", "12-19 digits"),
    ("device", "short", "8-128"),
    ("device", "a" * 129, "8-128"),
    ("device", "dev!ce-0001", "8-128"),
    ("group_tag", "   ", "1-64"),
    ("group_tag", "x" * 65, "1-64"),
    ("group_tag", "tag\x00zero", "control"),
    ("nonsense", "x", "unknown indicator kind"),
]


@pytest.mark.parametrize(("kind", "raw", "canonical"), ACCEPT)
def test_normalizers_accept(kind: str, raw: str, canonical: str) -> None:
    assert normalize(kind, raw) == canonical


@pytest.mark.parametrize(("kind", "raw", "fragment"), REJECT)
def test_normalizers_reject(kind: str, raw: str, fragment: str) -> None:
    with pytest.raises(InvalidIndicator, match=fragment):
        normalize(kind, raw)


@pytest.mark.parametrize("kind", ["complaint_text", "group_tag"])
@pytest.mark.parametrize("raw", ["O\u00a8", "I\u0307x", "\u1e9e\u00a8a"])
def test_text_normalisation_is_stable_where_one_nfkc_pass_is_not(kind: str, raw: str) -> None:
    once = normalize(kind, raw)
    assert normalize(kind, once) == once


def test_id_number_birth_date_is_validated() -> None:
    # A correct checksum over an impossible date (1949-02-30).
    body = "11010519490230002"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    with pytest.raises(InvalidIndicator, match="birth date"):
        normalize("id_number", body + check)


def test_complaint_text_is_not_hmac_hashed() -> None:
    with pytest.raises(InvalidIndicator, match="simhash64"):
        hash_indicator("complaint_text", "乱收费", KEY)


def test_short_keys_are_refused() -> None:
    with pytest.raises(InvalidIndicator, match="at least 16 bytes"):
        hash_indicator("phone", "13812345678", b"short")


_RAW_BY_KIND = {
    IndicatorKind.PHONE: st.builds(lambda d: f"139{d:08d}", st.integers(0, 10**8 - 1)),
    IndicatorKind.ID_NUMBER: st.sampled_from([a for k, a, _ in ACCEPT if k == "id_number"]),
    IndicatorKind.EMAIL: st.emails(),
    IndicatorKind.BANK_ACCOUNT: st.from_regex(r"\A[0-9]{12,19}\Z"),
    IndicatorKind.DEVICE: st.from_regex(r"\A[0-9A-Za-z:_-]{8,128}\Z"),
    IndicatorKind.GROUP_TAG: st.text(min_size=1, max_size=64),
    IndicatorKind.COMPLAINT_TEXT: st.text(min_size=1, max_size=200),
}


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_normalize_is_idempotent_and_hash_is_well_formed(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(list(IndicatorKind)))
    raw = data.draw(_RAW_BY_KIND[kind])
    try:
        canonical = normalize(kind, raw)
    except InvalidIndicator:
        return
    assert normalize(kind, canonical) == canonical
    if kind in HMAC_KINDS:
        value = hash_indicator(kind, raw, KEY)
        assert HASHED_VALUE_PATTERN[kind].fullmatch(value)
        assert value == hash_normalized(kind, canonical, KEY)
        check_hashed_value(kind, value)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40), st.binary(min_size=16, max_size=64))
def test_hash_differs_across_kinds(canonical: str, key: bytes) -> None:
    values = {hash_normalized(kind, canonical, key) for kind in HMAC_KINDS}
    assert len(values) == len(HMAC_KINDS)


# ----------------------------------------------------------------- hashed forms


def test_check_hashed_value_accepts_the_hashed_forms() -> None:
    check_hashed_value("phone", hash_indicator("phone", "13812345678", KEY))
    check_hashed_value("complaint_text", simhash64("你们乱收费必须赔偿"))


@pytest.mark.parametrize(
    ("kind", "value", "fragment"),
    [
        ("phone", "13812345678", "looks like a raw phone number: hash it"),
        ("phone", "+86 138 1234 5678", "looks like a raw phone number: hash it"),
        ("email", "zhang.san@example.com", "looks like a raw e-mail address"),
        ("id_number", "11010519491231002X", "looks like a raw ID number"),
        ("bank_account", "6222 0202 0000 1234 567", "looks like a raw"),
        ("phone", "AB" * 32, "lowercase hex"),
        ("phone", "ab" * 8, "64-hex HMAC of the normalised phone number"),
        ("complaint_text", "ab" * 32, "16-hex SimHash"),
        ("device", None, "hash it with client_sdk.hash_indicator before sending"),
    ],
)
def test_check_hashed_value_refuses_raw_values(kind: str, value: object, fragment: str) -> None:
    with pytest.raises(InvalidIndicator, match=fragment) as exc:
        check_hashed_value(kind, value)
    if isinstance(value, str) and len(value) > 4:
        assert value not in str(exc.value)


# ---------------------------------------------------------------------- simhash


def test_simhash_ignores_spacing_punctuation_and_width() -> None:
    assert simhash64("你们 乱收费，必须赔偿！") == simhash64("你们乱收费必须赔偿")
    assert simhash64("ＶＩＰ退款") == simhash64("vip退款")


@pytest.mark.parametrize("text", ["", "   ", "！？。，"])
def test_simhash_of_empty_text_is_an_error(text: str) -> None:
    with pytest.raises(InvalidIndicator, match="empty"):
        simhash64(text)


@given(st.text(min_size=1, max_size=300))
def test_simhash_form_and_distance(text: str) -> None:
    try:
        fp = simhash64(text)
    except InvalidIndicator:
        return
    assert HASHED_VALUE_PATTERN[IndicatorKind.COMPLAINT_TEXT].fullmatch(fp)
    assert simhash_distance(fp, fp) == 0
    flipped = f"{int(fp, 16) ^ 0b101:016x}"
    assert simhash_distance(fp, flipped) == 2


# ------------------------------------------------- service numbers and extensions

SPECIAL_NUMBERS = [
    ("95588", "cn-short:95588"),
    ("９５５８８", "cn-short:95588"),
    ("955 88", "cn-short:95588"),
    ("95555", "cn-short:95555"),
    ("96110", "cn-short:96110"),
    ("10086", "cn-short:10086"),
    ("10010", "cn-short:10010"),
    ("12315", "cn-short:12315"),
    ("12378", "cn-short:12378"),
    ("12321", "cn-short:12321"),
    ("+86 95588", "cn-short:95588"),
    ("106912345678", "cn-short:106912345678"),
    ("1069 1234 5678", "cn-short:106912345678"),
    ("4008-123-456", "+864008123456"),
    ("400 812 3456", "+864008123456"),
    ("800-123-4567", "+868001234567"),
    ("010-12345678", "+861012345678"),
    ("(010) 1234-5678", "+861012345678"),
    ("0755 8888 8888", "+8675588888888"),
    ("010-12345678 转 123", "+861012345678;ext=123"),
    ("010-12345678转123", "+861012345678;ext=123"),
    ("010-12345678 分机 123", "+861012345678;ext=123"),
    ("010-12345678 ext. 123", "+861012345678;ext=123"),
    ("010-12345678 x123", "+861012345678;ext=123"),
    ("010-12345678#123", "+861012345678;ext=123"),
    ("010-12345678,123", "+861012345678;ext=123"),
    ("+86 138 1234 5678", "+8613812345678"),
    ("8613812345678", "+8613812345678"),
]


@pytest.mark.parametrize(("raw", "canonical"), SPECIAL_NUMBERS)
def test_special_numbers_have_one_canonical_form(raw: str, canonical: str) -> None:
    assert normalize_phone(raw) == canonical
    assert client_sdk.normalize_phone(raw) == canonical
    assert normalize_phone(canonical) == canonical


def test_documented_vector_table_matches_the_code() -> None:
    """Every row of the FORMATS.md phone table is what normalize_phone answers."""
    doc = (Path(__file__).parents[2] / "docs" / "FORMATS.md").read_text(encoding="utf-8")
    section = doc.split("#### Phone test vectors", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1:3] for line in section.splitlines()[2:]]
    assert len(rows) >= 10
    for raw, canonical in rows:
        assert normalize_phone(raw.strip().strip("`")) == canonical.strip().strip("`")


def test_short_code_and_full_number_hashes_differ() -> None:
    """`cn-short:95588` cannot collide with any E.164 number, e.g. a +86 95588... landline."""
    assert hash_indicator("phone", "95588", KEY) != hash_normalized("phone", "+8695588", KEY)
    assert hash_indicator("phone", "95588", KEY) == hash_normalized("phone", "cn-short:95588", KEY)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [("99999", "not a known service code"), ("12345678", "not a known service code"),
     ("95588 x12", "cannot have an extension"), ("95588 转 1", "cannot have an extension"),
     ("cn-short:99999", "not a known service code"), ("+86 106912345678", "service code")],
)
def test_unknown_short_codes_and_short_code_extensions_are_refused(raw: str, needle: str) -> None:
    with pytest.raises(InvalidIndicator, match=needle) as exc:
        normalize_phone(raw)
    assert raw.replace(" ", "")[:-2] not in str(exc.value).replace("*", "")


@st.composite
def mainland_mobile(draw: st.DrawFn) -> tuple[str, str]:
    """A valid mainland mobile (from the installed metadata) in an everyday spelling."""
    national = draw(st.from_regex(_CN_MOBILE_PATTERN, fullmatch=True).filter(str.isascii))
    sep = draw(st.sampled_from(["", " ", "-"]))
    body = f"{national[:3]}{sep}{national[3:7]}{sep}{national[7:]}"
    if draw(st.booleans()):
        body = f"({national[:3]}) {national[3:7]} {national[7:]}"
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "0086", "0086 ", "86", "86-", "+86-"]))
    return prefix + body, "+86" + national


_CN_MOBILE_PATTERN = (
    phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern
)


@settings(max_examples=500, deadline=None)
@given(mainland_mobile())
def test_mainland_mobiles_in_any_common_spelling_give_one_e164(case: tuple[str, str]) -> None:
    raw, e164 = case
    assert normalize_phone(raw) == e164
    assert normalize_phone(e164) == e164


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([c for _, c in SPECIAL_NUMBERS]) | mainland_mobile().map(lambda c: c[0]))
def test_normalize_phone_is_idempotent(raw: str) -> None:
    once = normalize_phone(raw)
    assert normalize_phone(once) == once
