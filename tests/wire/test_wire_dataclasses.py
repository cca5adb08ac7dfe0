"""Every kind of the contract has a dataclass that round-trips its wire form exactly, and the
one registry of kinds gives the tables the box and the broker ACL use."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.forensic.fanout import sign_for, signed_request
from edge.outbound.digests import build_digest
from edge.outbound.egress import ALLOWED_SUFFIXES, RESERVED_SUFFIXES, SUBSCRIBE_SUFFIXES
from edge.search.answer import unsigned_body
from edge.wire.keys import verify
from edge.wire.ledger_entries import GENESIS, make_entry
from edge.wire.messages import (
    ABSENT,
    KINDS,
    SCHEMAS,
    HealthMessage,
    LedgerDigest,
    MessageError,
    SearchQuery,
    SearchRequest,
    StateMessage,
    decode,
    digest_signed_part,
    encode,
    kind,
    read,
    topic,
)
from tests.kits.samples import (
    CAMERA,
    SITE,
    example,
    sample_event,
    sample_health,
    sample_ledger,
    sample_search_req,
    sample_stats,
)

MINIMAL = {"event": sample_event, "health": sample_health, "stats": sample_stats,
           "ledger": sample_ledger, "search/req": sample_search_req}
"""Valid examples that leave optional fields out (they must stay out)."""


def wire_of(message: Any, seq: int | None) -> Any:
    return message.to_wire() if seq is None else message.to_wire(seq)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_kind_round_trips_through_its_dataclass(name: str) -> None:
    for sample in (example(name), *([MINIMAL[name]()] if name in MINIMAL else [])):
        cls = kind(name).message
        message = cls.from_wire(sample)  # type: ignore[call-arg]
        assert isinstance(message, cls)
        again = wire_of(message, sample.get("seq"))
        assert again == sample
        assert json.loads(encode(again)) == json.loads(encode(sample))
        assert cls.from_wire(again) == message  # type: ignore[call-arg]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_read_gives_the_json_and_its_dataclass(name: str) -> None:
    sample = example(name)
    body, message = read(name, encode(sample), SITE, CAMERA)
    assert body == sample == decode(name, encode(sample), SITE, CAMERA)
    assert message == kind(name).message.from_wire(sample)  # type: ignore[call-arg]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_from_wire_refuses_what_the_schema_refuses(name: str) -> None:
    cls = kind(name).message
    with pytest.raises(MessageError, match="Additional properties"):
        cls.from_wire({**example(name), "frame": "jpeg..."})  # type: ignore[call-arg]
    with pytest.raises(MessageError):
        cls.from_wire({k: v for k, v in example(name).items() if k != "schema"})  # type: ignore[call-arg]


def test_state_round_trips_and_refuses_other_words() -> None:
    body, message = read("state", b"offline", SITE, CAMERA)
    assert message == StateMessage(SITE, CAMERA, "offline") and body == "offline"
    assert encode(message.to_wire()) == b"offline"
    with pytest.raises(MessageError, match="state payload"):
        StateMessage.from_wire("rebooting", SITE, CAMERA)


def test_an_optional_field_left_out_stays_out_and_null_stays_null() -> None:
    minimal = HealthMessage.from_wire(sample_health())
    assert minimal.cpu_percent is ABSENT and minimal.outbox_error is None
    wire = minimal.to_wire(3)
    assert "cpu_percent" not in wire and wire["outbox_error"] is None and "detector" not in wire


def test_the_registry_gives_what_a_box_may_publish_and_subscribe_to() -> None:
    assert ALLOWED_SUFFIXES == {"event": 1, "health": 0, "state": 1, "stats": 1, "ledger": 1,
                                "search/resp": 1}
    assert SUBSCRIBE_SUFFIXES == ("search/req", "suppress")
    assert set(RESERVED_SUFFIXES) == {"health", "state"}
    assert {k.name for k in KINDS} == set(SCHEMAS) | {"state"}
    assert all(k.name == k.message.KIND for k in KINDS)


def test_a_digest_signature_checks_over_the_wire_form_and_the_dataclass() -> None:
    key = Ed25519PrivateKey.generate()
    entry = make_entry(1, GENESIS, "mqtt", topic(SITE, CAMERA, "event"), b"{}", ts=1_795_000_000.5)
    digest = build_digest(key, SITE, CAMERA, [entry], 1, entry.hash, now=1_795_000_060.0)
    wire = digest.to_wire(2)
    assert wire["entries"] == [dict(sorted(entry.__dict__.items()))], "as the ledger file holds it"
    assert verify(key.public_key(), digest_signed_part(wire), digest.signature)
    assert verify(key.public_key(), LedgerDigest.from_wire(wire).signed_part(), digest.signature)
    forged = replace(digest, head_seq=5)
    assert not verify(key.public_key(), forged.signed_part(), forged.signature)


def test_a_signed_request_is_the_bytes_the_dict_signer_made() -> None:
    key = Ed25519PrivateKey.generate()
    req = SearchRequest(
        id="0192f0c1-0000-7000-8000-000000000001", requester="inspector-ana", case="PV-1",
        reason="hit and run", issued_at="2026-11-24T10:00:00.000Z",
        expires_at="2026-11-24T10:05:00.000Z", window_start="2026-11-24T09:00:00.000Z",
        window_end="2026-11-24T10:00:00.000Z", query=SearchQuery("car", "red", None, "left"),
        limit=100)
    body = {k: v for k, v in req.to_wire().items() if k != "cameras"}
    one = signed_request(key, req, SITE, CAMERA)
    assert encode(one.to_wire()) == encode(sign_for(key, body, SITE, CAMERA))
    assert verify(key.public_key(), unsigned_body(one.to_wire()), str(one.signature))
    assert SearchRequest.from_wire(one.to_wire()) == one
