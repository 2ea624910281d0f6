"""Signature verification against HubSpot's published vectors, its SDK and the sandbox signer."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hubspot.utils.signature import Signature

from streams.ingest.hubspot_signature import (
    SignatureError,
    SignedRequest,
    expected_v1,
    expected_v2,
    expected_v3,
    request_uri,
    v3_uri,
    verify,
)
from streams.lab.sandbox.hubspot_signing import sign_v3, signature_headers

# HubSpot's documented examples ("Validating the v1/v2 request signature").
DOC_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
DOC_V1_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
    b'"changeFlag":"NEW","appId":54321}]'
)
DOC_V1_HASH = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
DOC_V2_GET_HASH = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
DOC_V2_POST_HASH = "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
DOC_URI = "https://www.example.com/webhook_uri"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def signed(headers: dict[str, str], body: bytes, uri: str = DOC_URI, method: str = "POST") -> SignedRequest:
    return SignedRequest(method=method, uri=uri, body=body, headers={k.lower(): v for k, v in headers.items()})


def test_official_v1_vector_verifies() -> None:
    assert expected_v1(DOC_SECRET, DOC_V1_BODY) == DOC_V1_HASH
    request = signed({"X-HubSpot-Signature": DOC_V1_HASH, "X-HubSpot-Signature-Version": "v1"}, DOC_V1_BODY)
    assert verify(request, DOC_SECRET, NOW) == "v1"


def test_official_v2_vectors_verify_for_get_and_post() -> None:
    assert expected_v2(DOC_SECRET, "GET", DOC_URI, b"") == DOC_V2_GET_HASH
    post_body = b'{"example_field":"example_value"}'
    assert expected_v2(DOC_SECRET, "POST", DOC_URI, post_body) == DOC_V2_POST_HASH
    request = signed({"X-HubSpot-Signature": DOC_V2_POST_HASH, "X-HubSpot-Signature-Version": "v2"}, post_body)
    assert verify(request, DOC_SECRET, NOW) == "v2"
    get = signed({"X-HubSpot-Signature": DOC_V2_GET_HASH, "X-HubSpot-Signature-Version": "v2"}, b"", method="GET")
    assert verify(get, DOC_SECRET, NOW) == "v2"


def test_our_signatures_agree_with_the_official_sdk() -> None:
    body = '[{"objectId":42,"propertyValue":"closedwon"}]'
    assert Signature.is_valid(expected_v1("s3cret", body.encode()), "s3cret", body, signature_version="v1")
    assert Signature.is_valid(expected_v2("s3cret", "POST", DOC_URI, body.encode()), "s3cret", body,
                              http_uri=DOC_URI, signature_version="v2")
    ts = str(int(time.time() * 1000))
    assert Signature.is_valid(expected_v3("s3cret", "POST", DOC_URI, body.encode(), ts), "s3cret", body,
                              http_uri=DOC_URI, signature_version="v3", timestamp=ts)


def test_v3_decodes_only_hubspots_escapes_like_the_sandbox_signer() -> None:
    uri = "https://h.example.com/webhooks/hubspot?next=%2Fdeals%3Fa%3D1&x=%20y%40z"
    assert v3_uri(uri) == "https://h.example.com/webhooks/hubspot?next=/deals?a%3D1&x=%20y@z"
    ts = "1777636800000"
    assert expected_v3("k", "POST", uri, b"[]", ts) == sign_v3("k", "POST", uri, b"[]", ts)


def test_v3_is_preferred_and_a_fresh_timestamp_verifies() -> None:
    ts = int(NOW.timestamp() * 1000)
    headers = signature_headers("k", "POST", DOC_URI, b"[]", ts, versions=("v1", "v3"))
    headers["X-HubSpot-Signature"] = "0" * 64  # a broken legacy signature is irrelevant when v3 is present
    assert verify(signed(headers, b"[]"), "k", NOW) == "v3"


@pytest.mark.parametrize(("offset_s", "reason"), [(-301, "old"), (+120, "future")])
def test_v3_timestamp_outside_the_window_is_refused(offset_s: int, reason: str) -> None:
    ts = int((NOW + timedelta(seconds=offset_s)).timestamp() * 1000)
    headers = signature_headers("k", "POST", DOC_URI, b"[]", ts, versions=("v3",))
    with pytest.raises(SignatureError, match=reason):
        verify(signed(headers, b"[]"), "k", NOW)


def test_v3_timestamp_just_inside_the_window_verifies() -> None:
    ts = int((NOW - timedelta(seconds=299)).timestamp() * 1000)
    headers = signature_headers("k", "POST", DOC_URI, b"[]", ts, versions=("v3",))
    assert verify(signed(headers, b"[]"), "k", NOW) == "v3"


@pytest.mark.parametrize("tamper", ["body", "uri", "secret", "timestamp"])
def test_any_tampering_breaks_v3(tamper: str) -> None:
    ts = int(NOW.timestamp() * 1000)
    headers = signature_headers("k", "POST", DOC_URI, b"[1]", ts, versions=("v3",))
    body, uri, secret = b"[1]", DOC_URI, "k"
    if tamper == "body":
        body = b"[2]"
    elif tamper == "uri":
        uri = DOC_URI + "?x=1"
    elif tamper == "secret":
        secret = "other"
    else:
        headers["X-HubSpot-Request-Timestamp"] = str(ts - 1000)
    with pytest.raises(SignatureError):
        verify(signed(headers, body, uri), secret, NOW)


def test_missing_or_unknown_signatures_are_refused() -> None:
    with pytest.raises(SignatureError, match="no HubSpot signature"):
        verify(signed({}, b"[]"), "k", NOW)
    with pytest.raises(SignatureError, match="unknown signature version"):
        verify(signed({"X-HubSpot-Signature": "x", "X-HubSpot-Signature-Version": "v9"}, b"[]"), "k", NOW)
    with pytest.raises(SignatureError, match="milliseconds"):
        verify(signed({"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": "soon"}, b"[]"), "k", NOW)


def test_public_base_url_replaces_what_the_proxy_forwarded() -> None:
    assert request_uri("https://hooks.example.com/", "http", "10.0.0.5:8000", "/webhooks/hubspot", "a=1") == (
        "https://hooks.example.com/webhooks/hubspot?a=1"
    )
    assert request_uri(None, "http", "10.0.0.5:8000", "/webhooks/hubspot", "") == "http://10.0.0.5:8000/webhooks/hubspot"
