"""The only way out of the box.

Every outbound payload passes through :meth:`Egress.publish`: it must be under this box's
own topic prefix, validate against the contract's JSON Schema, and be appended to the
egress ledger *before* it is handed to the network. Anything else raises
:class:`EgressRefused` and is logged; nothing is sent.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import BrokerConfig
from edge.outbound.ledger import Ledger, LedgerError
from edge.wire.messages import (
    KINDS,
    MAX_PAYLOAD_BYTES,
    STATE_PAYLOADS,
    Message,
    MessageError,
    StateMessage,
    encode,
    topic,
    validate,
)

log = logging.getLogger(__name__)

ALLOWED_SUFFIXES = {k.suffix: k.qos for k in KINDS if k.sender == "box"}
"""Topic suffix -> QoS for everything a box may publish (the contract's registry of kinds)."""
SUBSCRIBE_SUFFIXES = tuple(k.suffix for k in KINDS if k.sender == "hub")
"""What a box may subscribe to, under its own prefix only (the broker ACL agrees)."""
RESERVED_SUFFIXES = tuple(k.suffix for k in KINDS if k.reserved)
"""What may use the ledger's space reserve on a full disk: what tells the hub about it."""
STATISTICS_MODE_REFUSED = {"event", "clip"}
"""What a box in ``mode = "statistics"`` may never send: alerts and their clips."""


class EgressRefused(Exception):
    """A payload that may not leave the box; the text says why."""


class Egress:
    """This box's MQTT connection, behind the schema check and the ledger."""

    def __init__(
        self, site: str, camera: str, broker: BrokerConfig, ledger: Ledger, mode: str = "alerts"
    ):
        self.mode = mode
        """``statistics``: event messages are refused here, whatever the rules do."""
        self.site = site
        self.camera = camera
        self.broker = broker
        self.ledger = ledger
        self.connected = threading.Event()
        self.on_ack: Callable[[int], None] | None = None
        self.on_connection_change: Callable[[bool], None] | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"vigie-{site}-{camera}",
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        if broker.username:
            self.client.username_pw_set(broker.username, broker.password)
        if broker.tls_ca is not None:  # production: TLS with the fleet CA and a device certificate
            self.client.tls_set(
                ca_certs=str(broker.tls_ca),
                certfile=str(broker.tls_cert) if broker.tls_cert else None,
                keyfile=str(broker.tls_key) if broker.tls_key else None,
            )
        self.client.reconnect_delay_set(1, 30)
        self.client.max_inflight_messages_set(broker.inflight)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self._handlers: dict[str, Callable[[bytes], None]] = {}
        self.client.on_message = self._on_message
        # The last will is handed to the broker at connect time, so it leaves the box too.
        will = self._checked("state", "offline", None)
        self.ledger.append("mqtt", topic(site, camera, "state"), will, reserved=True)
        self.client.will_set(topic(site, camera, "state"), will, qos=1, retain=True)

    # -- connection -------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background; paho reconnects with backoff until :meth:`stop`."""
        self.client.connect_async(self.broker.host, self.broker.port, self.broker.keepalive_s)
        self.client.loop_start()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish ``offline`` (if connected) and disconnect cleanly."""
        if self.connected.is_set():
            try:
                info = self.publish("state", "offline", retain=True)
                if info is not None:
                    info.wait_for_publish(timeout)
            except (RuntimeError, ValueError, EgressRefused) as exc:
                log.warning("could not publish offline state: %s", exc)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.error("broker %s:%s refused the connection: %s", self.broker.host, self.broker.port, rc)
            return
        log.info("connected to broker %s:%s", self.broker.host, self.broker.port)
        self.connected.set()
        try:
            self.publish("state", "online", retain=True)
        except LedgerError as exc:  # never out of paho's thread: the will still says offline
            log.error("could not publish online state: %s", exc)
        for suffix in self._handlers:
            client.subscribe(topic(self.site, self.camera, suffix), qos=1)
        if self.on_connection_change:
            self.on_connection_change(True)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was:
            log.warning("disconnected from broker (%s); messages stay in the outbox", rc)
        if self.on_connection_change:
            self.on_connection_change(False)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        if self.on_ack:
            self.on_ack(mid)

    # -- the way in: this box's own search requests only -------------------------
    def subscribe(self, suffix: str, handler: Callable[[bytes], None]) -> None:
        """Receive payloads published on this box's own ``suffix`` topic (before :meth:`start`;
        renewed on every reconnect). ``handler`` runs on paho's thread: it must only queue."""
        if suffix not in SUBSCRIBE_SUFFIXES:
            raise ValueError(f"a box may subscribe only to {SUBSCRIBE_SUFFIXES}, not {suffix!r}")
        self._handlers[suffix] = handler
        if self.connected.is_set():
            self.client.subscribe(topic(self.site, self.camera, suffix), qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        for suffix, handler in self._handlers.items():
            if msg.topic == topic(self.site, self.camera, suffix):
                handler(bytes(msg.payload))
                return
        log.warning("ignored a message on %s: not a topic of this box", msg.topic[:200])

    # -- the choke point ----------------------------------------------------------------
    def _checked(self, suffix: str, message: Any, seq: int | None) -> bytes:
        if suffix not in ALLOWED_SUFFIXES:
            raise EgressRefused(f"topic suffix {suffix!r} is not one a box may publish")
        if suffix in STATISTICS_MODE_REFUSED and self.mode == "statistics":
            raise EgressRefused(f"{suffix} messages may not leave a box in statistics mode")
        if isinstance(message, StateMessage):
            message = message.to_wire()
        if suffix == "state":
            if message not in STATE_PAYLOADS:
                raise EgressRefused(f"state must be one of {STATE_PAYLOADS}")
            return encode(message)
        seq = seq if seq is not None else 0
        if hasattr(message, "KIND"):  # a message dataclass of the contract
            if suffix != message.KIND:
                raise EgressRefused(f"a {message.KIND} message may not go out as {suffix}")
            message = message.to_wire(seq)
        if not isinstance(message, dict):
            raise EgressRefused(f"{suffix} message must be a JSON object")
        message = {**message, "seq": seq}
        try:
            validate(suffix, message)
        except MessageError as exc:
            raise EgressRefused(f"{suffix} message refused by schema: {exc}") from None
        if (message["site"], message["camera"]) != (self.site, self.camera):
            raise EgressRefused("message names another site/camera than this box")
        try:
            payload = encode(message)
        except MessageError as exc:
            raise EgressRefused(f"{suffix} message refused: {exc}") from None
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise EgressRefused(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        return payload

    def publish(self, suffix: str, message: Message | dict[str, Any] | str,
                retain: bool = False) -> mqtt.MQTTMessageInfo | None:
        """Validate, ledger and publish one message (a dataclass of the contract, or its JSON
        object without ``seq``) under this box's prefix.

        JSON messages get their ``seq`` from the ledger. Returns paho's message info (whose
        ``mid`` the PUBACK will name), or None when not connected (nothing is ledgered
        then). Raises EgressRefused for anything that may not leave, LedgerError (LedgerFull
        on a full disk) when it cannot be ledgered: then nothing is sent.
        """
        dest = topic(self.site, self.camera, suffix)
        qos = ALLOWED_SUFFIXES.get(suffix, 1)
        try:
            self._checked(suffix, message, None)  # refuse early, before taking a seq
        except EgressRefused as exc:
            log.error("egress refused a %s message: %s", suffix, exc)
            raise
        if not self.connected.is_set():
            return None
        _, payload = self.ledger.append_built(
            "mqtt", dest, lambda seq: self._checked(suffix, message, seq),
            reserved=suffix in RESERVED_SUFFIXES)
        info = self.client.publish(dest, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("publish to %s failed (%s); will retry from the outbox", dest, info.rc)
        return info


# -- clip and still uploads (HTTP PUT) ------------------------------------------------------------------
CLIP_PATH = "/api/v1/events/{id}/clip"
STILL_PATH = "/api/v1/events/{id}/still"
_EVENT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_WEBM_MAGIC = b"\x1a\x45\xdf\xa3"
_JPEG_MAGIC = b"\xff\xd8\xff"
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


class UploadError(Exception):
    """The hub could not be reached (network, timeout); the upload may be retried."""


def put_clip(
    ledger: Ledger, hub_url: str, device_token: str, event_id: str, data: bytes, timeout_s: float,
    mode: str = "alerts",
) -> int:
    """PUT one anonymised clip to the hub; returns the HTTP status.

    Only a WebM file for a well-formed event id may go, only to the clip path of that event,
    and every attempt is appended to the ledger (kind ``http``, dest the path) before the
    bytes are sent. Raises :class:`EgressRefused` for anything else, :class:`UploadError`
    when the hub cannot be reached.
    """
    if not data.startswith(_WEBM_MAGIC):
        raise EgressRefused("clip is not a WebM file")
    return _put(ledger, hub_url, device_token, CLIP_PATH, event_id, data, "video/webm",
                timeout_s, mode, {})


def put_still(
    ledger: Ledger, hub_url: str, device_token: str, event_id: str, data: bytes, taken_at: str,
    timeout_s: float, mode: str = "alerts",
) -> int:
    """PUT one anonymised still (JPEG) of an event start to the hub; returns the HTTP status.

    The same rules as :func:`put_clip`: a JPEG only, to that event's still path only,
    ledgered before it is sent; ``taken_at`` (UTC ISO) goes as ``X-Taken-At``."""
    if not data.startswith(_JPEG_MAGIC):
        raise EgressRefused("still is not a JPEG file")
    if not _TIMESTAMP.match(taken_at):
        raise EgressRefused(f"taken_at {taken_at[:40]!r} is not a UTC ISO time")
    return _put(ledger, hub_url, device_token, STILL_PATH, event_id, data, "image/jpeg",
                timeout_s, mode, {"X-Taken-At": taken_at})


def _put(ledger: Ledger, hub_url: str, device_token: str, path: str, event_id: str, data: bytes,
         ctype: str, timeout_s: float, mode: str, extra: dict[str, str]) -> int:
    if mode == "statistics" and "clip" in STATISTICS_MODE_REFUSED:
        raise EgressRefused("clips and stills may not leave a box in statistics mode")
    if not _EVENT_ID.match(event_id):
        raise EgressRefused(f"event id {event_id!r} is not a UUIDv7")
    dest = path.format(id=event_id)
    digest = hashlib.sha256(data).hexdigest()
    ledger.append("http", dest, data)
    req = urllib.request.Request(
        hub_url.rstrip("/") + dest, data=data, method="PUT",
        headers={"Authorization": f"Bearer {device_token}", "Content-Type": ctype,
                 "X-Content-SHA256": digest, **extra},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError) as exc:
        raise UploadError(f"cannot reach the hub at {hub_url}: {exc}") from None
