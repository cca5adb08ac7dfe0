"""The box config's sections for its side wings: audio, clips and their upload, outbox, index,
ledger digests.

Each is a field of :class:`edge.config.BoxConfig` (``[audio]``, ``[clips]``, ``[upload]``,
``[outbox]``, ``[index]``, ``[ledger]``); like every config model they refuse unknown keys.
This module imports nothing from :mod:`edge.config` so that the config can import it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.wire.suppress import DETECTOR_RULES
from edge.wire.tomlconf import Strict


class AudioConfig(Strict):
    """Gunshot detection from a microphone or a file. Off unless a legal basis is recorded.

    Audio never leaves the box and never touches its disk: it lives in an in-memory ring
    buffer of a few seconds; only ``gunshot`` event messages are sent.
    """

    enabled: bool = False
    """Listen for gunshots (needs ``legal_basis``)."""
    legal_basis: str | None = Field(default=None, max_length=200)
    """Free text naming what allows sound capture here, e.g. the impact assessment's reference."""
    file: str | None = None
    """A WAV/FLAC file to replay instead of a microphone (tests, demonstrations)."""
    device: int | str | None = None
    """PortAudio input device (index or name); default device when neither is set."""
    realtime: bool = True
    """Pace a ``file`` at its own sample rate, as a microphone would deliver it."""
    loop: bool = False
    """Start a ``file`` again when it ends."""
    pooling: Literal["max", "sum"] = "max"
    """How the gun-related YAMNet classes are pooled (chosen by leave-one-position-out CV)."""
    threshold: float = Field(default=0.3, gt=0.0, le=1.0)
    """Pooled gunshot score of a window that starts an event."""
    release: float = Field(default=0.15, gt=0.0, le=1.0)
    """Hysteresis: a burst stays open while windows score at least this."""
    refractory_s: float = Field(default=10.0, ge=1.0, le=600.0)
    """Seconds without a window reaching ``release`` after which the event ends (one burst = one event)."""
    gate_rise_db: float | None = Field(default=4.5, ge=0.0, le=60.0)
    """Skip the model on windows without an onset this strong; none runs it on every window."""
    severity: Literal["info", "warning", "critical"] = "critical"
    """Severity of ``gunshot`` events."""
    threads: int = Field(default=1, ge=1, le=8)
    """CPU threads of the YAMNet runtime."""

    @field_validator("legal_basis")
    @classmethod
    def _basis_text(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("legal_basis is empty; name the text that allows sound capture here")
        return v.strip() if v else v

    @model_validator(mode="after")
    def _lawful(self) -> AudioConfig:
        if self.enabled and not self.legal_basis:
            raise ValueError(
                "audio.enabled = true needs audio.legal_basis: sound capture in public space is "
                "unlawful without a text that allows it; set legal_basis to its reference (for "
                "example the data-protection impact assessment), or leave audio disabled"
            )
        if self.release > self.threshold:
            raise ValueError(f"release ({self.release}) must not exceed threshold ({self.threshold})")
        if self.file is not None and self.device is not None:
            raise ValueError("set at most one of 'file' and 'device'")
        return self


class ClipsConfig(Strict):
    """Anonymised event clips: pre/post-roll, anonymisation, encoding limits.

    ``anonymize`` has no "off": a clip that leaves the box always has faces and/or person heads
    blurred (privacy masks are applied in every case).
    """

    enabled: bool = True
    """Make anonymised clips of events (uploaded only when ``[upload]`` is set)."""
    pre_s: float = Field(default=5.0, ge=0.0, le=30.0)
    """Seconds of video before the event start kept in the clip (the pre-roll)."""
    post_s: float = Field(default=5.0, ge=1.0, le=60.0)
    """Seconds of video after the event start in the clip. 5 s: with the pre-roll the clip
    holds what made the rule fire (its dwell) and what followed at once, the operator has the
    live camera for the rest; less video of people (least data), and the clip is at the hub
    about 5 s sooner than with 10 s."""
    fps: float = Field(default=10.0, ge=1.0, le=30.0)
    """Frame rate of the encoded clip (frames are repeated or dropped to keep real time)."""
    preroll_max_bytes: int = Field(default=32 * 1024 * 1024, ge=256 * 1024, le=1024 * 1024 * 1024)
    """Memory bound of the pre-roll buffer (JPEG frames); the oldest frames go first."""
    preroll_fps: float | None = Field(default=None, gt=0.0, le=60.0)
    """Keep at most this many frames per second in the pre-roll (None: every frame)."""
    preroll_max_width: int | None = Field(default=None, ge=160, le=7680)
    """Downscale frames wider than this before storing them (None: full resolution)."""
    jpeg_quality: int = Field(default=85, ge=30, le=100)
    """JPEG quality of the frames held in the pre-roll buffer."""
    max_width: int = Field(default=1920, ge=160, le=7680)
    """Widest encoded clip (see ``max_height``)."""
    max_height: int = Field(default=1080, ge=120, le=4320)
    """A clip is encoded at most ``max_width`` x ``max_height`` (larger camera frames are
    scaled down after anonymisation, aspect kept): the hub's ``clips.max_width``/``max_height``
    refuse anything larger."""
    max_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024)
    """A clip larger than this is not uploaded (the event says ``failed``)."""
    anonymize: str = "faces+persons"
    """What is blurred: ``faces``, ``persons`` (heads of person boxes) or both (``faces+persons``)."""
    face_threshold: float = Field(default=0.3, gt=0.0, lt=1.0)
    """YuNet score above which a face is blurred (low: better blur too much than too little)."""
    face_scale: float = Field(default=2.0, ge=1.0, le=4.0)
    """Upscale factor of the frame given to YuNet, so that small faces are found."""
    max_pending: int = Field(default=4, ge=1, le=64)
    """Clips assembled at once; an event beyond that gets no clip (``failed``), never a stall."""
    upload_timeout_s: float = Field(default=30.0, gt=0.0, le=600.0)
    """One clip upload (HTTP PUT) is abandoned, and retried, after this long."""
    retry_initial_s: float = Field(default=2.0, gt=0.0, le=600.0)
    """First wait before retrying a failed upload; doubles on each failure."""
    retry_max_s: float = Field(default=300.0, gt=0.0, le=86400.0)
    """Longest wait between two upload attempts."""
    max_attempts: int = Field(default=20, ge=1, le=10000)
    """Upload attempts before a clip is given up (the event then says ``failed``)."""
    shutdown_wait_s: float = Field(default=60.0, ge=0.0, le=3600.0)
    """At shutdown, how long to wait for clips still being encoded (a clip not encoded by
    then is lost; an encoded one not yet uploaded stays in the outbox for the next run)."""
    overlay: bool = True
    """Draw the event's zone (or line) and the detection boxes on the clip and the still,
    after anonymisation, so the operator sees why the event fired."""
    still: bool = True
    """Send one anonymised still (the frame that started the event) as soon as an event
    starts, before its clip (uploaded only when ``[upload]`` is set)."""
    still_max_width: int = Field(default=960, ge=160, le=1920)
    """Widest still (see ``still_max_height``)."""
    still_max_height: int = Field(default=540, ge=120, le=1080)
    """A still is scaled down (aspect kept) to fit ``still_max_width`` x ``still_max_height``."""
    still_max_bytes: int = Field(default=256 * 1024, ge=16 * 1024, le=2 * 1024 * 1024)
    """Largest still; its JPEG quality is lowered until it fits (the hub refuses larger)."""
    still_jpeg_quality: int = Field(default=80, ge=30, le=95)
    """JPEG quality a still is first encoded with."""
    still_retry_s: float = Field(default=0.25, gt=0.0, le=60.0)
    """Wait between the first still upload attempts (the hub answers 404 until it has the
    event's start message: a short wait keeps the still within seconds); after eight of them
    it doubles up to ``retry_max_s``."""

    @field_validator("anonymize")
    @classmethod
    def _no_off(cls, v: str) -> str:
        allowed = ("faces+persons", "faces", "persons")
        if v not in allowed:
            raise ValueError(
                f"anonymize must be one of {', '.join(repr(a) for a in allowed)}; "
                f"clips are never sent without anonymisation (got {v!r}); "
                "set clips.enabled = false to send no clips at all"
            )
        return v


class UploadConfig(Strict):
    """Where and as whom the box uploads clips (HTTP PUT to the hub)."""

    hub_url: str = Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    """The hub's base URL (``https://hub.example``); clips are PUT to ``/api/v1/events/<id>/clip``."""
    device_token: str = Field(min_length=16, max_length=512)
    """This box's bearer token for clip uploads (a ``device_tokens`` entry of the hub)."""


class OutboxConfig(Strict):
    """The box's store-and-forward queue (see edge.outbound.outbox for the drop policy)."""

    max_bytes: int = Field(default=256 * 1024 * 1024, ge=256 * 1024)
    """Cap on stored message bytes; over it, stats rows go first, then the oldest events."""
    memory_queue: int = Field(default=1000, ge=10, le=100_000)
    """Messages kept in memory (and retried) while the outbox cannot be written."""


class IndexConfig(Strict):
    """The box-local track index and its forensic search (see edge.search.index)."""

    enabled: bool = True
    """Index finished tracks and answer signed search requests (never in statistics mode)."""
    retention_days: int = Field(default=10, ge=1, le=30)
    """Index rows and their previews older than this are purged (30 days: French legal maximum)."""
    best_crops: int = Field(default=3, ge=1, le=10)
    """Crops of a live vehicle track kept in memory to vote its colour."""
    max_results: int = Field(default=200, ge=1, le=500)
    """Most rows one answer may carry, whatever the request's limit."""
    request_max_lifetime_s: float = Field(default=900.0, ge=1.0, le=3600.0)
    """A request living longer than this (``expires_at - issued_at``) is refused: its id
    would have to be remembered that long (the hub's search ``expiry_s`` must not exceed it)."""
    clock_skew_s: float = Field(default=300.0, ge=0.0, le=3600.0)
    """A request issued further than this in the box's future is refused; answered request
    ids are also kept this long past their expiry (a clock stepped back cannot revive them)."""


class LedgerDigestConfig(Strict):
    """Signed egress-ledger digests (edge.outbound.digests); need the box key made by ``vigie edge enrol``."""

    interval_s: float = Field(default=60.0, ge=0.2, le=3600.0)
    """Seconds between digests (a digest is also made at shutdown)."""
    require_key: bool = False
    """Refuse to start without the box key (else: warn and send no digests)."""



# -- verification of candidate events and false-alarm suppressions --------------------------
VerifyMode = Literal["off", "crop", "second_model"]
VerifiedRule = Literal["intrusion", "wrong_way", "person_down", "abandoned_object", "weapon",
                       "crowd_density", "crowd_movement"]
VERIFIED_RULES = DETECTOR_RULES
"""The rules raised from detected objects, whose candidates can be re-checked on their frame."""


def _default_verify_modes() -> dict[VerifiedRule, VerifyMode]:
    """Crop for rules raised by one object of a detector class (a closer look at a native-
    resolution crop settles a false detection); off where the detector is not the evidence
    (person_down: the body pose already decides; crowds: many small persons, density, not
    each one's class)."""
    return {"intrusion": "crop", "wrong_way": "crop", "abandoned_object": "crop",
            "weapon": "crop", "person_down": "off", "crowd_density": "off",
            "crowd_movement": "off"}


class VerifyConfig(Strict):
    """``[verify]``: each candidate event of a detector-based rule is re-checked, when it
    starts, on the frame that raised it; one that is not confirmed is not sent (logged and
    counted on the box). Received false-alarm suppressions are applied whatever the mode."""

    modes: dict[VerifiedRule, VerifyMode] = Field(default_factory=_default_verify_modes)
    """Per rule type: ``off``; ``crop`` (the detector again on an enlarged crop around each
    object at the camera's native resolution); ``second_model`` (the same crop through
    ``second_model``). Types not named keep their default."""
    confirm_score: float = Field(default=0.5, gt=0.0, lt=1.0)
    """A crop confirms an object when it finds the object's class (vehicles: any vehicle) at
    least this sure, overlapping the object's box."""
    min_iou: float = Field(default=0.3, gt=0.0, le=1.0)
    """How much the crop's detection must overlap the candidate object (IoU, frame pixels)."""
    context: float = Field(default=0.5, ge=0.0, le=4.0)
    """The close crop is the object's box grown by this fraction of its size on every side
    (a small object is seen larger)."""
    wide_context: float = Field(default=1.5, ge=0.0, le=8.0)
    """When the close crop does not confirm, a wide crop, the box grown by this fraction,
    is tried (an object cut by the frame's edge needs its surroundings to be recognised)."""
    min_crop_px: int = Field(default=160, ge=32, le=4096)
    """Smallest crop side in pixels (a small object is seen with its surroundings)."""
    max_per_hour: int = Field(default=120, ge=0, le=100000)
    """Most verifications per camera-hour (CPU bound); beyond it a candidate is sent
    unverified, and says so (``verify_unverified`` in its measure)."""
    second_model: str = "person-vehicle-bike-2000-fp16"
    """The manifest model of ``second_model`` mode (OpenVINO); without it the box uses crop."""
    second_backend: Literal["onnxruntime", "openvino", "tflite"] = "openvino"
    """The runtime of ``second_model``."""
    store: bool = True
    """Keep received suppressions in ``<data_dir>/suppressions.sqlite`` (applied after a restart
    before the broker is reached)."""

    @field_validator("modes")
    @classmethod
    def _fill(cls, v: dict[VerifiedRule, VerifyMode]) -> dict[VerifiedRule, VerifyMode]:
        return {**_default_verify_modes(), **v}
# -- end of verification --
