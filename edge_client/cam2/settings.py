"""Settings of the room camera (cam2), validated once at start-up.

Values come from code/CLI flags, the environment (prefix ``CLASSSIGHT_``), a ``.env`` file or a
YAML file (see :mod:`edge_client.settings`). In the environment, lists such as the door polygon
are JSON: ``CLASSSIGHT_DOOR_ZONE='[[680,260],[768,260],[768,440],[680,440]]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from contracts.ids import CameraId
from edge_client.settings import DEFAULT_MODELS_DIR, EdgeSettings, SourceSettings


class Cam2Settings(SourceSettings, EdgeSettings):
    """The room camera: models, tracker, door zone, handoffs, presence, stream.

    Build it with ``load_edge_settings(Cam2Settings, yaml_file)``; the room, camera, bucket and
    endpoint come from :class:`~edge_client.settings.EdgeSettings`, the frame source from
    :class:`~edge_client.settings.SourceSettings` (as for cam1).
    """

    camera_id: CameraId = Field("cam2", description="This camera's id within the room.")

    # --- person detector -----------------------------------------------------------------
    person_weights_path: Path = Field(
        DEFAULT_MODELS_DIR / "person" / "yolov8n_int8_openvino_model",
        description=(
            "ultralytics YOLO weights: a .pt file (yolov8n.pt is downloaded when absent, on a "
            "machine with internet), an OpenVINO export folder or an .onnx file."
        ),
    )
    person_confidence: float = Field(
        0.1,
        ge=0.01,
        le=0.99,
        description=(
            "Lowest detector score passed to the tracker. ByteTrack uses low-score boxes to keep "
            "occluded people, so keep this well below the tracker's activation threshold."
        ),
    )
    person_iou: float = Field(
        0.7,
        ge=0.1,
        le=0.95,
        description="NMS IoU of the detector. Lower merges people standing close together.",
    )
    person_imgsz: int = Field(
        640,
        ge=160,
        le=1920,
        multiple_of=32,
        description=(
            "Detector input size. Larger finds distant people but costs time quadratically. "
            "An export with a fixed input (the shared OpenVINO int8 model: 640) runs at its own size."
        ),
    )

    person_detect_every_n: int | None = Field(
        None,
        ge=1,
        le=4,
        description=(
            "Run the person detector on one frame in this many; on the others the tracker predicts "
            "each track's box and re-id, handoffs and presence run as usual. Higher saves CPU "
            "(the detector is most of cam2's frame) but matches moving people from further away, "
            "which costs more identity than dropping frames (README). Empty: every frame; the "
            "detector is timed at start-up and the expected frame rate and dropped share logged "
            "(edge_client.cam2.compute)."
        ),
    )

    person_min_height_fraction: float = Field(
        0.09,
        ge=0.0,
        le=0.5,
        description=(
            "People whose box is shorter than this share of the frame height are dropped before "
            "tracking: they stand too far away to be in the room (or to be identified), and "
            "tracking them only adds ghost tracks. 0 keeps every detection."
        ),
    )

    # --- tracker -------------------------------------------------------------------------
    tracker: Literal["bytetrack", "botsort", "ocsort"] = Field(
        "bytetrack",
        description="Motion tracker of the roboflow trackers library (bench/cam2.py compares them).",
    )
    track_iou: Literal["iou", "giou", "diou"] = Field(
        "giou",
        description=(
            "Overlap measure of track-detection association. GIoU still ranks boxes that barely "
            "overlap, which keeps fast walkers on their track at low frame rates."
        ),
    )
    track_activation_threshold: float = Field(
        0.5,
        ge=0.05,
        le=0.99,
        description="Score a detection needs to start a new track. Higher means fewer ghost tracks.",
    )
    track_high_confidence: float = Field(
        0.48,
        ge=0.05,
        le=0.99,
        description="Score separating ByteTrack's first (high) and second (low) association stages.",
    )
    track_lost_buffer_s: float = Field(
        0.5,
        ge=0.0,
        le=60.0,
        description=(
            "How long a lost track may come back under the same id on motion alone. Longer "
            "bridges occlusions but lets a stale track grab a different person; longer breaks "
            "are mended by the appearance re-link (track_relink_window_s)."
        ),
    )
    track_min_iou: float = Field(
        0.3,
        ge=0.0,
        le=0.95,
        description="Least overlap (track_iou) between a predicted track and a detection to associate them.",
    )
    track_min_consecutive_frames: int = Field(
        2,
        ge=1,
        le=30,
        description="Frames a new track must be seen before it gets an id. Higher drops flicker.",
    )

    track_frame_edges: bool = Field(
        True,
        description=(
            "A person the frame's left or right edge cuts keeps the width their track had in "
            "full view (the box reaches past the edge, as people are annotated), and a person "
            "whose box centre is past the edge is not reported: mostly out of view, not in the room."
        ),
    )

    track_relink_enabled: bool = Field(
        True,
        description=(
            "Continue a lost track's id on a new track outside the door zone when their body "
            "embeddings agree (costs one OSNet crop per new track and per track per refresh)."
        ),
    )
    track_relink_window_s: float = Field(
        1.5, ge=0.0, le=60.0, description="How long after a track is lost a new track may continue its id."
    )
    track_relink_radius_heights: float = Field(
        1.5,
        ge=0.1,
        le=20.0,
        description=(
            "How far from where a track was lost (in person heights, plus one height per second "
            "lost) a new track may continue it; scaled to the person, so any frame size reads the same."
        ),
    )
    track_relink_refresh_s: float = Field(
        0.2,
        ge=0.05,
        le=60.0,
        description=(
            "How often each live track's body embedding is refreshed for re-linking (one OSNet "
            "crop, about 10 ms, per track each time). Shorter follows turning people better, costs CPU."
        ),
    )
    track_relink_similarity: float = Field(
        0.65,
        ge=0.0,
        le=1.0,
        description=(
            "Body-embedding cosine similarity needed to continue an id. Higher joins fewer people wrongly."
        ),
    )

    # --- door zone and handoffs ----------------------------------------------------------
    door_zone: list[tuple[int, int]] = Field(
        default_factory=list,
        description=(
            "Polygon (pixel x,y vertices) of the door in this camera's view; a track whose feet "
            "are inside it when it first appears entered through the door. Draw it generously "
            "around the doorway: a person is often first detected a step inside. Empty: no "
            "track counts as entering, so door handoffs never tag anyone."
        ),
    )
    walk_delay_s: float = Field(
        3.0,
        ge=0.0,
        le=300.0,
        description="Typical time from the door camera's capture to appearing in this view.",
    )
    handoff_max_time_diff_s: float = Field(
        4.0,
        ge=0.1,
        le=300.0,
        description=(
            "Largest gap between a handoff's expected arrival and a track's appearance for them "
            "to be paired. Larger tolerates slow walkers, but pairs unrelated people."
        ),
    )
    handoff_settle_s: float = Field(
        1.0,
        ge=0.0,
        le=60.0,
        description=(
            "Wait past the expected arrival before committing a pairing, so a later but closer "
            "match can still win the joint assignment. Longer is more accurate, slower to tag."
        ),
    )
    handoff_wait_s: float = Field(
        10.0,
        ge=0.0,
        le=600.0,
        description="How long past its expected arrival a handoff waits for a candidate track.",
    )
    handoff_appearance_weight_s: float = Field(
        2.0,
        ge=0.0,
        le=60.0,
        description=(
            "When a handoff carries the clothing colour the door camera saw, a full mismatch "
            "with a track's colour costs as much as this many seconds of time difference. Helps "
            "only when people enter within a second of each other; 0 lets time alone decide."
        ),
    )
    clock_correction_enabled: bool = Field(
        True,
        description=(
            "Estimate how far this PC's clock is from the door camera's from recent confident "
            "handoff-to-entry pairs and correct expected arrivals by it (shown on /health)."
        ),
    )
    clock_max_offset_s: float = Field(
        5.0,
        ge=0.0,
        le=60.0,
        description=(
            "Largest clock offset the correction believes. Larger covers worse clocks, but a run "
            "of wrong pairs can then move expected arrivals further. Fix clocks beyond it (NTP)."
        ),
    )
    clock_samples: int = Field(
        20, ge=3, le=1000, description="Recent confident pairs the clock offset is the robust median of."
    )
    track_forget_s: float = Field(
        30.0,
        ge=1.0,
        le=3600.0,
        description="Records of tracks not seen for this long are dropped from memory.",
    )

    # --- identity carry-over (body re-id) ------------------------------------------------
    reid_enabled: bool = Field(True, description="Carry a USN to a new track on re-id evidence.")
    reid_weights_path: Path = Field(
        DEFAULT_MODELS_DIR / "reid" / "osnet_x0_25_msmt17.onnx",
        description="OSNet re-id weights (ONNX, input images [N,3,256,128]).",
    )
    reid_similarity_threshold: float = Field(
        0.65,
        ge=0.0,
        le=1.0,
        description=(
            "Cosine similarity a new track's body embedding needs to a lost tagged track's to "
            "inherit its USN. Higher avoids wrong carries, loses more identities."
        ),
    )
    reid_carry_window_s: float = Field(
        5.0,
        ge=0.1,
        le=120.0,
        description="How soon after a tagged track is lost a new track may inherit its USN.",
    )
    reid_carry_radius_heights: float = Field(
        1.5,
        ge=0.1,
        le=20.0,
        description=(
            "How far from where the tagged track was lost the new track may appear, in person "
            "heights (plus one height per second lost): a fixed pixel radius is huge on a small "
            "frame and tiny on a large one."
        ),
    )
    reid_refresh_s: float = Field(
        1.0,
        ge=0.1,
        le=60.0,
        description="How often a tagged track's body embedding is refreshed. Shorter costs CPU.",
    )

    # --- presence and body crops ---------------------------------------------------------
    presence_interval_s: float = Field(
        30.0,
        ge=1.0,
        le=3600.0,
        description="Seconds between presence reports. Shorter confirms attendance sooner, costs requests.",
    )
    unknown_body_after_s: float = Field(
        20.0,
        ge=1.0,
        le=3600.0,
        description="A track unknown for this long uploads a body crop for body matching.",
    )
    body_crop_interval_s: float = Field(
        60.0,
        ge=1.0,
        le=3600.0,
        description="Least time between two body crop uploads of the same track.",
    )
    body_crop_jpeg_quality: int = Field(90, ge=10, le=100, description="JPEG quality of body crops.")
    gallery_crops_per_track: int = Field(
        3,
        ge=0,
        le=20,
        description=(
            "Body crops uploaded of each track a door handoff tags, for the room's body gallery of "
            "the day (body_match re-identifies long-unknown tracks against it). More crops cover more "
            "poses; 0 turns the gallery off."
        ),
    )
    gallery_crop_interval_s: float = Field(
        5.0,
        ge=0.5,
        le=600.0,
        description="Time between two gallery crops of the same track; longer sees more different poses.",
    )
    outbox_path: Path = Field(
        Path("var/cam2_outbox.sqlite3"),
        description="SQLite file holding presence reports and body crops until uploaded; survives restarts.",
    )
    outbox_max_items: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Most uploads waiting; beyond it the oldest are dropped (and counted).",
    )

    # --- cloud ---------------------------------------------------------------------------
    handoff_queue_url: str = Field("", description="This room's SQS handoff queue. Empty: no handoffs.")
    sqs_wait_time_s: int = Field(
        20, ge=0, le=20, description="SQS long-poll wait. Longer means fewer empty receives."
    )
    sqs_visibility_timeout_s: int = Field(
        60,
        ge=1,
        le=43_200,
        description=(
            "How long a received handoff stays hidden from other receivers. Must outlast "
            "walk_delay_s + handoff_wait_s, since a message is deleted only once applied."
        ),
    )

    # --- stream --------------------------------------------------------------------------
    stream_enabled: bool = Field(True, description="Serve the annotated MJPEG stream and /health.")
    stream_host: str = Field("127.0.0.1", description="Address the stream server binds to.")
    stream_port: int = Field(8082, ge=0, le=65_535, description="Port of the stream server (0: any free).")
    stream_jpeg_quality: int = Field(
        75, ge=10, le=100, description="JPEG quality of stream frames. Higher costs bandwidth and CPU."
    )
    stream_max_fps: float = Field(
        10.0,
        gt=0.0,
        le=60.0,
        description="Most stream frames encoded per second; the camera loop is never slowed.",
    )
    show_window: bool = Field(False, description="Also show an OpenCV window (needs a display).")

    @field_validator("door_zone")
    @classmethod
    def _door_is_polygon(cls, value: list[tuple[int, int]]) -> list[tuple[int, int]]:
        if value and len(value) < 3:
            raise ValueError("a door zone needs at least 3 vertices (or none)")
        return value

    @model_validator(mode="after")
    def _handoff_windows_consistent(self) -> Self:
        if self.handoff_settle_s > self.handoff_wait_s:
            raise ValueError("handoff_settle_s must not exceed handoff_wait_s")
        if self.handoff_queue_url and self.sqs_visibility_timeout_s < self.walk_delay_s + self.handoff_wait_s:
            raise ValueError("sqs_visibility_timeout_s must be >= walk_delay_s + handoff_wait_s")
        return self
