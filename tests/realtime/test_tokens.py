"""The access-token check: what `token_issue` makes passes, nothing else does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from django.conf import settings

from realtime.tokens import InvalidToken, token_claims, token_issue, token_subject


def _segment(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(claims: dict[str, Any], *, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key or settings.JWT_SECRET, algorithm=algorithm)


def _valid_claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": "42", "exp": int(time.time()) + 60}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _with_signature(header: str, payload: str) -> str:
    """The token the two segments make, signed with the right key whatever they say."""
    signed = f"{header}.{payload}".encode()
    signature = hmac.new(settings.JWT_SECRET.encode(), signed, hashlib.sha256).digest()
    return f"{header}.{payload}.{_segment(signature)}"


class _User:
    pk = 42


@pytest.mark.django_db
def test_an_issued_token_names_its_user_and_generation() -> None:
    token, ttl = token_issue(user=_User())  # type: ignore[arg-type]
    assert token_subject(token) == 42
    assert token_claims(token).generation == 0
    assert ttl == settings.JWT_TTL_SECONDS


@pytest.mark.parametrize("generation", [-1, True, "1", 1.5, None])
def test_a_generation_that_is_not_a_whole_number_is_refused(generation: Any) -> None:
    claims = dict(_valid_claims(), gen=generation)
    with pytest.raises(InvalidToken):
        token_claims(_signed(claims))


def test_extra_claims_and_a_past_nbf_are_accepted() -> None:
    token = _signed(_valid_claims(nbf=int(time.time()) - 5, iat=int(time.time()), role="x"))
    assert token_subject(token) == 42


@pytest.mark.parametrize(
    "claims",
    [
        _valid_claims(exp=int(time.time()) - 1),
        _valid_claims(exp=None),
        _valid_claims(exp="9999999999"),
        _valid_claims(exp=True),
        _valid_claims(nbf=int(time.time()) + 60),
        _valid_claims(nbf="0"),
        _valid_claims(sub=None),
        _valid_claims(sub=42),
        _valid_claims(sub="alice"),
        _valid_claims(sub="-1"),
        _valid_claims(sub="\uff14\uff12"),  # fullwidth 42
        _valid_claims(sub=""),
    ],
    ids=[
        "expired",
        "no-exp",
        "exp-string",
        "exp-bool",
        "nbf-future",
        "nbf-string",
        "no-sub",
        "sub-number",
        "sub-name",
        "sub-negative",
        "sub-fullwidth-digits",
        "sub-empty",
    ],
)
def test_well_signed_but_unacceptable_claims_are_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        token_subject(_signed(claims))


def test_another_key_is_refused() -> None:
    with pytest.raises(InvalidToken):
        token_subject(_signed(_valid_claims(), key="another-key-" * 4))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_another_algorithm_with_the_right_key_is_refused() -> None:
    with pytest.raises(InvalidToken):
        token_subject(_signed(_valid_claims(), algorithm="HS512"))


def test_an_unsigned_token_is_refused() -> None:
    unsigned = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(_valid_claims())}."
    with pytest.raises(InvalidToken):
        token_subject(unsigned)


def test_a_header_naming_another_algorithm_is_refused_even_when_signed() -> None:
    payload = _segment(_valid_claims())
    for header in (_segment({"alg": "none"}), _segment({"typ": "JWT"}), _segment({"alg": "HS512"})):
        with pytest.raises(InvalidToken):
            token_subject(_with_signature(header, payload))


def test_critical_header_extensions_are_refused() -> None:
    header = _segment({"alg": "HS256", "crit": ["b64"], "b64": False})
    with pytest.raises(InvalidToken):
        token_subject(_with_signature(header, _segment(_valid_claims())))
    plain = _segment({"alg": "HS256", "typ": "JWT", "kid": "k1"})
    assert token_subject(_with_signature(plain, _segment(_valid_claims()))) == 42


def test_a_changed_payload_is_refused() -> None:
    header, _payload, signature = _signed(_valid_claims()).split(".")
    other = _segment(_valid_claims(sub="1"))
    with pytest.raises(InvalidToken):
        token_subject(f"{header}.{other}.{signature}")


def test_junk_inside_the_signature_is_refused_not_skipped() -> None:
    header, payload, signature = _signed(_valid_claims()).split(".")
    assert token_subject(f"{header}.{payload}.{signature}") == 42
    for junk in (
        f"{signature[:5]}!{signature[5:]}",
        f"{signature}=",
        f"{signature[:5]}+{signature[5:]}",
    ):
        with pytest.raises(InvalidToken):
            token_subject(f"{header}.{payload}.{junk}")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "...",
        "é.é.é",
        f"{_segment(b'[1]')}.{_segment(b'{}')}.",
        f"{_segment(b'not json')}.{_segment(b'{}')}.AAAA",
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        token_subject(token)


def test_payloads_that_are_not_objects_are_refused_even_when_signed() -> None:
    header = _segment({"alg": "HS256", "typ": "JWT"})
    for payload in (_segment([1, 2]), _segment("42"), _segment(b"\xff\xfe")):
        with pytest.raises(InvalidToken):
            token_subject(_with_signature(header, payload))


def test_agrees_with_pyjwt_on_tokens_pyjwt_makes() -> None:
    now = int(time.time())
    cases = [
        _valid_claims(sub=str(n), exp=now + offset)
        for n, offset in [(1, 60), (2, -60), (3, 3600), (12345678901234567890, 5)]
    ]
    for claims in cases:
        token = _signed(claims)
        try:
            expected: int | None = int(
                jwt.decode(
                    token,
                    settings.JWT_SECRET,
                    algorithms=["HS256"],
                    options={"require": ["exp", "sub"]},
                )["sub"]
            )
        except jwt.PyJWTError:
            expected = None
        try:
            got: int | None = token_subject(token)
        except InvalidToken:
            got = None
        assert got == expected
