"""The North American fast path gives phonenumbers' own verdict and E.164 form."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.leads import normalize_phone

AREAS = ["212", "312", "415", "268", "787", "340", "671", "684", "876", "800", "900", "555",
         "416", "604", "939", "809", "473", "441", "345", "521", "533", "456", "500", "911",
         "123", "099"]
FORMS = ["{a}{b}{c}", "({a}) {b}-{c}", "{a}-{b}-{c}", "+1 {a} {b} {c}", "1-{a}-{b}-{c}",
         "{a}.{b}.{c}", "+1{a}{b}{c}", " ({a}){b}-{c} ", "1 ({a}) {b} {c}"]


def reference(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@settings(max_examples=600, deadline=None)
@given(area=st.one_of(st.sampled_from(AREAS), st.from_regex(r"\d{3}", fullmatch=True)),
       exchange=st.from_regex(r"\d{3}", fullmatch=True),
       line=st.from_regex(r"\d{4}", fullmatch=True), form=st.sampled_from(FORMS))
def test_normalize_phone_matches_phonenumbers(area, exchange, line, form):
    """For any 10-digit number in any common written form, the verdict equals phonenumbers'."""
    text = form.format(a=area, b=exchange, c=line)
    normalize_phone.cache_clear()
    assert normalize_phone(text) == reference(text)


def test_normalize_phone_sends_other_forms_to_phonenumbers():
    """International, extension and lettered numbers take phonenumbers' full path."""
    for text in ["+44 20 7946 0958", "+52 55 1234 5678", "312-555-0134 ext 12", "1-800-FLOWERS",
                 "555-0134", "", "not a phone", "+1 312 555 01345"]:
        assert normalize_phone(text) == reference(text)
