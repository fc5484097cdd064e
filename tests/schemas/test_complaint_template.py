"""Keyed MinHash template signatures (schemas/complaint_template.py, issue 17)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import complaint_template as ct
from schemas.indicators import InvalidIndicator
from tests.helpers.complaint_corpus import generate

KEY = b"identity key of epoch 1, 32 byte"
OTHER_KEY = b"identity key of epoch 2, 32 byte"
TEMPLATE = ("本人张伟，身份证号110101199003071234，联系电话13812345678，"
            "现就某某银行随心贷一事进行投诉。"
            "2025年3月5日，某某银行工作人员以零利息为由诱导本人办理随心贷，金额35800元，从未告知服务费。"
            "现要求某某银行立即退还全部费用35800元，并书面道歉。")


def sim(a: str, b: str, key: bytes = KEY) -> float:
    return ct.similarity(ct.parse_signature(ct.template_signature(a, key)),
                         ct.parse_signature(ct.template_signature(b, key)))


def test_an_edited_copy_matches_and_an_unrelated_complaint_does_not() -> None:
    edited = (TEMPLATE.replace("张伟", "李秀英").replace("35800", "129000")
              .replace("要求", "强烈要求").replace("13812345678", "13998765432")
              .replace("，", " "))
    unrelated = "我在网点办了信用卡，客服一直打不通，年费扣了两次，希望给个说法，谢谢。"
    assert sim(TEMPLATE, edited) >= ct.LINK_SIMILARITY
    assert sim(TEMPLATE, unrelated) < ct.LINK_SIMILARITY / 2


def test_without_the_key_a_guessed_text_cannot_be_tested() -> None:
    """The same text under another epoch's key shares no more values than chance."""
    assert sim(TEMPLATE, TEMPLATE) == 1.0
    a = ct.parse_signature(ct.template_signature(TEMPLATE, KEY))
    b = ct.parse_signature(ct.template_signature(TEMPLATE, OTHER_KEY))
    assert ct.similarity(a, b) < 0.05


@given(st.text(alphabet="贷款保险理财退还费用投诉要求银行公司本人元月日，。 0123456789",
               min_size=20, max_size=200))
@settings(max_examples=60, deadline=None)
def test_signature_is_a_function_of_the_normalised_text(text: str) -> None:
    try:
        sig = ct.template_signature(text, KEY)
    except InvalidIndicator:
        return
    spaced = " ".join(text).replace("，", ",")
    assert ct.template_signature(spaced, KEY) == sig
    assert len(ct.band_keys(ct.parse_signature(sig))) == ct.SIGNATURE_SIZE // ct.BAND_ROWS


@pytest.mark.parametrize("bad", ["", "ab" * 3, "0" * (ct.SIGNATURE_HEX - 1),
                                 "g" * ct.SIGNATURE_HEX])
def test_bad_input_is_refused(bad: str) -> None:
    with pytest.raises(InvalidIndicator):
        ct.parse_signature(bad)
    with pytest.raises(InvalidIndicator):
        ct.template_signature("太短了", KEY)


def test_the_generated_corpus_is_deterministic_and_has_ground_truth() -> None:
    a, b = generate(seed=3, groups=4, genuine=30), generate(seed=3, groups=4, genuine=30)
    assert a == b
    assert {c.group for c in a} - {None} == {0, 1, 2, 3}
    assert sum(c.group is None for c in a) == 30
