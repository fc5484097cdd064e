"""The number-registration schema: whatever a member sends, what it accepts fits the
database column and shows no invisible characters."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError

from schemas.numbers import MAX_DISPLAY_NAME, NumberRegistrationSchema

_SCHEMA = NumberRegistrationSchema()


@given(st.text(max_size=80))
def test_accepted_display_names_fit_and_are_clean(name: str) -> None:
    body = {"raw_number": "95588", "display_name": name, "purpose": "customer_service"}
    try:
        loaded = _SCHEMA.load(body)["display_name"]
    except ValidationError as exc:
        assert "display_name" in exc.messages
        return
    assert 1 <= len(loaded) <= MAX_DISPLAY_NAME
    assert unicodedata.normalize("NFKC", loaded) == loaded
    assert not any(unicodedata.category(c)[0] == "C" for c in loaded)
    assert loaded == loaded.strip() and "  " not in loaded


def test_a_chinese_name_is_kept_as_written() -> None:
    body = {"raw_number": "95588", "display_name": " 中国工商银行  ", "purpose": "collection"}
    assert _SCHEMA.load(body)["display_name"] == "中国工商银行"
    with pytest.raises(ValidationError):
        _SCHEMA.load({**body, "display_name": "\u3000"})
