"""The cached email fast path gives email-validator's own verdict and form."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.leads import normalize_email

ATOM = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
local = st.text(alphabet=ATOM + ".", min_size=0, max_size=70)
domain = st.one_of(
    st.sampled_from(["gmail.com", "Example.COM", "mail.example.co.uk", "localhost", "a..b.com",
                     "-bad.com", "xn--bcher-kva.example", "bücher.example", "123.456",
                     "example.invalid", "x" * 64 + ".com", "ok-domain.io", "ex_ample.com"]),
    st.text(alphabet="abc.-1", min_size=1, max_size=20),
)


def reference(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


@settings(max_examples=400, deadline=None)
@given(local=local, domain=domain)
def test_normalize_email_matches_email_validator(local, domain):
    """For any local part and domain, the fast path agrees with email-validator."""
    text = f"{local}@{domain}"
    assert normalize_email(text) == reference(text)


def test_normalize_email_handles_unusual_forms_through_email_validator():
    """Quoted, non-ASCII and missing-@ addresses go to email-validator whole."""
    for text in ['"quoted"@example.com', "jos\u00e9@example.com", "no-at-sign", "@example.com",
                 "a@b@example.com", "Pat.Doe@Example.com"]:
        assert normalize_email(text) == reference(text)
