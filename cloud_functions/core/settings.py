"""One validated settings object per deployable.

Values come from the environment (prefix ``CLASSSIGHT_``) or a ``.env`` file. Required values
have no default: a function that starts without them fails at once with a message naming the
missing variables, instead of failing on the first event.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cloud_functions.core.errors import ConfigurationError
from cloud_functions.core.timetable import CaptureTimeBounds, GraceWindows
from vision.liveness.settings import LivenessSettings

if TYPE_CHECKING:
    from cloud_functions.core.proxy_rules import ProxyRules

ENV_PREFIX = "CLASSSIGHT_"

# Where the repository keeps nothing but points at: weights shipped beside the checkout for
# tests and local runs. A deployment sets its own paths.
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "models"


class _Base(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )


class AwsSettings(_Base):
    """Where the AWS-shaped services live."""

    aws_endpoint_url: str = Field(
        "",
        description="Endpoint of an AWS-compatible service (local stack). Empty means real AWS.",
    )
    aws_region: str = Field("us-east-1", description="Region for every AWS client.")

    @field_validator("aws_endpoint_url")
    @classmethod
    def _endpoint_is_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be empty (real AWS) or an http(s) URL")
        return value.rstrip("/")


class DatabaseSettings(_Base):
    """The relational store (RDS MySQL in the cloud; SQLite or MariaDB locally)."""

    database_url: str = Field(
        ...,
        description=(
            "SQLAlchemy URL, e.g. mysql+pymysql://user:pass@host/classsight or sqlite:///var/classsight.db."
        ),
    )
    db_pool_size: int = Field(
        2,
        ge=1,
        le=50,
        description=(
            "Connections kept per warm process. A Lambda container serves one event at a time, "
            "so more only burns RDS connections."
        ),
    )
    db_pool_recycle_s: int = Field(
        280,
        ge=30,
        le=28_800,
        description="Reopen pooled connections older than this; keep below the server's wait_timeout.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_dialect(cls, value: str) -> str:
        if not value.startswith(("sqlite", "mysql+pymysql://", "mariadb+pymysql://")):
            raise ValueError("only sqlite and mysql+pymysql URLs are supported")
        return value


class FaceModelSettings(_Base):
    """Face detection, quality gates, embedding and matching."""

    face_detector: Literal["yunet", "retinaface"] = Field(
        "yunet", description="Face detector with 5 landmarks."
    )
    face_detector_path: Path | None = Field(
        None,
        description=(
            "Weights of the face detector. Empty picks the shared file of the chosen detector "
            "(face_detection_yunet.onnx or retinaface_mnet025_640.onnx)."
        ),
    )
    face_detect_max_side_px: int = Field(
        640,
        ge=160,
        le=4096,
        description=(
            "YuNet runs on the image shrunk to this longer side. Lower is faster on large uploads "
            "but loses faces smaller than about 1/60 of it."
        ),
    )
    face_detector_score: float = Field(
        0.7,
        ge=0.1,
        le=0.99,
        description="Detector confidence. Lower finds more faces in bad light but admits false ones.",
    )
    face_embedder: Literal["onnx", "deepface"] = Field(
        "onnx",
        description="ArcFace-family embedder: an ONNX model via onnxruntime, or DeepFace's ArcFace.",
    )
    face_embedder_path: Path = Field(
        DEFAULT_MODELS_DIR / "face" / "arcface_mobilefacenet_128d.onnx",
        description="ONNX embedder weights, or DeepFace's arcface_weights.h5 (downloaded if absent).",
    )
    min_face_px: int = Field(
        32,
        ge=16,
        le=1024,
        description=(
            "Smallest face (shorter box side) accepted. Lower lets farther faces in; below 32 px "
            "the measured pair TAR falls (0.94 at 32 px, 0.87 at 28, 0.79 at 24, LFW downscaled, "
            "python -m bench.faces --size-sweep) and false accepts start to appear."
        ),
    )
    min_sharpness: float = Field(
        8.0,
        ge=0.0,
        le=10_000.0,
        description=(
            "Minimum Laplacian variance of the aligned 112x112 face. Higher rejects more blur. "
            "Calibrated with bench/faces.py --blur-sweep: unblurred LFW photos measure >= 9.6; "
            "held-out queries blurred with sigma 3 px (median 9.1) still identify 70/84, "
            "sigma 4 px (median 6.0) only 23/84."
        ),
    )
    max_yaw_ratio: float = Field(
        0.45,
        ge=0.0,
        le=1.0,
        description=(
            "Largest nose offset from the eye midline, as a share of the eye distance. "
            "Lower demands more frontal faces. About 0 frontal; the most turned LFW test photo "
            "that still identifies measures 0.40, a profile view 0.84."
        ),
    )
    max_image_bytes: int = Field(
        5_000_000,
        ge=10_000,
        le=50_000_000,
        description="Uploads larger than this are rejected before decoding.",
    )
    max_image_pixels: int = Field(
        40_000_000,
        ge=10_000,
        le=200_000_000,
        description=(
            "Images with more pixels than this (read from the header) are rejected before decoding, "
            "so a small file cannot expand into a huge bitmap."
        ),
    )
    embed_batch_size: int = Field(
        1,
        ge=1,
        le=512,
        description=(
            "Faces per embedder inference call. 1 is fastest for the MobileFaceNet ONNX model on "
            "CPU (bench/faces.py); larger batches pay off on GPUs and for DeepFace's ResNet34."
        ),
    )
    onnx_intra_op_threads: int = Field(
        1,
        ge=0,
        le=64,
        description=(
            "Threads onnxruntime uses per inference (0 = every core). One vCPU per Lambda and a "
            "shared CPU locally make 1 the fastest; raise it on a dedicated multi-core host."
        ),
    )
    match_threshold: float = Field(
        0.365,
        ge=-1.0,
        le=1.0,
        description=(
            "Cosine similarity a match needs. Higher cuts false accepts, raises false rejects. "
            "Model-specific: 0.365 is the middle of the best-accuracy range over all photo pairs of "
            "the LFW subset for YuNet + arcface_mobilefacenet_128d (python -m bench.faces); "
            "recalibrate with that command when changing the detector or embedder."
        ),
    )
    match_margin: float = Field(
        0.10,
        ge=0.0,
        le=1.0,
        description=(
            "Lead the best student needs over the runner-up student; closer calls become 'unknown'. "
            "On the LFW subset the smallest lead of a correct match is about 0.25, so 0.10 costs no "
            "correct identification while refusing faces that resemble two students."
        ),
    )
    off_roster_match_threshold: float = Field(
        0.5,
        ge=-1.0,
        le=1.0,
        description=(
            "Similarity a door face needs to be named as an enrolled student who is NOT on the "
            "roster of the class running in that room (outcome not_on_roster: shown to admins, "
            "no attendance, no handoff). Courses without roster rows match the whole gallery at "
            "match_threshold. Higher names fewer strangers as someone from another class and "
            "leaves more real visitors as unknown_person; must not be below match_threshold. "
            "python -m bench.roster_first measures both on LFW pairs."
        ),
    )
    duplicate_similarity: float = Field(
        0.55,
        ge=0.0,
        le=1.0,
        description=(
            "At enrollment, a new faceprint this similar to ANY other student's (best over their "
            "prints) is flagged as a possible double enrollment. Lower catches more double "
            "enrollments and flags more strangers who merely look alike. On the LFW subset "
            "(python -m bench.roster_first) 95% of a person's held-out photos score >= 0.569 "
            "against their own 3 prints and no other person scores above 0.298."
        ),
    )
    lookalike_similarity: float = Field(
        0.365,
        ge=-1.0,
        le=1.0,
        description=(
            "At enrollment, a new faceprint this similar to a course mate's (sharing a roster) is "
            "flagged as a possible twin or look-alike, and the door then always demands the "
            "margin between the two. Lower flags more pairs (each costs only a stricter margin)."
        ),
    )
    negative_margin: float = Field(
        0.0,
        ge=0.0,
        le=0.2,
        description=(
            "A door face named as student X must be closer to X's best faceprint than to every "
            "capture a teacher corrected as 'not X' (a negative) by more than this; else it is "
            "unknown_person (detail corrected_negative). 0 is the plain rule 'closer to X than to "
            "X's negatives'; higher refuses more look-alikes of a corrected impostor and more of "
            "X's own faces that resemble the impostor. python -m bench.corrections measures both."
        ),
    )
    gallery_refresh_s: float = Field(
        1.0,
        ge=0.0,
        le=60.0,
        description=(
            "How often a warm matcher asks the database whether faceprints changed (0: before every "
            "match). The check counts the model's faceprints, about 40-70 ms over 50,000 rows on a "
            "loaded 2-core machine; checking at most once a second keeps it off most captures of a "
            "class-start burst, and a new enrollment or a deletion reaches the matcher within a second."
        ),
    )

    @model_validator(mode="after")
    def _stricter_bars_are_stricter(self) -> FaceModelSettings:
        if self.off_roster_match_threshold < self.match_threshold:
            raise ValueError("off_roster_match_threshold must not be below match_threshold")
        if self.duplicate_similarity < self.lookalike_similarity:
            raise ValueError("duplicate_similarity must not be below lookalike_similarity")
        return self

    @property
    def resolved_face_detector_path(self) -> Path:
        """``face_detector_path``, or the shared weights of the chosen detector when it is empty."""
        if self.face_detector_path is not None:
            return self.face_detector_path
        file_name = {"yunet": "face_detection_yunet.onnx", "retinaface": "retinaface_mnet025_640.onnx"}
        return DEFAULT_MODELS_DIR / "face" / file_name[self.face_detector]


class AttendanceRuleSettings(_Base):
    """How marks turn into percentages and the shortage list (API and the daily notification)."""

    sweep_grace: timedelta = Field(
        timedelta(minutes=15),
        ge=timedelta(0),
        le=timedelta(hours=12),
        description=(
            "A held session with no mark for a roster student counts as absent this long after it "
            "ends: the absent sweep's grace (the same setting, CLASSSIGHT_SWEEP_GRACE), so reports "
            "count a missing mark as absent exactly when the sweep writes it."
        ),
    )
    late_weight: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description=(
            "What a late arrival counts for in the percentage: 1 a full attendance, 0.5 half, "
            "0 nothing (late counts as missed). Lower rewards punctuality; 1 counts presence only."
        ),
    )
    min_attendance_pct: float = Field(
        75.0,
        ge=0.0,
        le=100.0,
        description=(
            "The minimum attendance a student needs in a course (a course's own "
            "min_attendance_pct overrides it); students under it are on the shortage list."
        ),
    )


class FunctionSettings(AwsSettings, DatabaseSettings, FaceModelSettings, LivenessSettings):
    """Settings of the Lambda functions (enroll, face_match, body_match, presence).

    The ``liveness_*`` settings (``vision.liveness.LivenessSettings``) drive face_match's
    re-check of each door crop and what a suspected spoof does (``liveness_mode``).
    """

    bucket_name: str = Field(..., description="Bucket holding captures and enrollment photos.")
    handoff_topic_arn: str = Field(..., description="SNS topic for handoffs to room cameras.")
    grace_before_start: timedelta = Field(
        timedelta(minutes=10),
        ge=timedelta(0),
        le=timedelta(hours=1),
        description=(
            "A door sighting this long before a class starts counts for that class. Longer catches "
            "early arrivals but can claim students of the class before."
        ),
    )
    grace_on_time_after_start: timedelta = Field(
        timedelta(minutes=20),
        ge=timedelta(0),
        le=timedelta(hours=3),
        description="Arrivals up to this long after the start are 'entered'; later ones are 'late'.",
    )

    @property
    def grace_windows(self) -> GraceWindows:
        """The timetable's grace windows from these settings."""
        return GraceWindows(
            before_start=self.grace_before_start, on_time_after_start=self.grace_on_time_after_start
        )

    capture_max_ahead: timedelta = Field(
        timedelta(minutes=2),
        ge=timedelta(0),
        le=timedelta(hours=1),
        description=(
            "A capture or report timestamped more than this after its object reached the bucket is "
            "refused (implausible_capture_time): the camera's clock is wrong or the upload forged. "
            "Larger tolerates worse clocks; NTP keeps classroom PCs within a second."
        ),
    )
    capture_max_age: timedelta = Field(
        timedelta(hours=24),
        ge=timedelta(minutes=1),
        le=timedelta(days=3650),
        description=(
            "A capture or report taken more than this before its object reached the bucket is refused "
            "(implausible_capture_time). The edge outbox holds captures through an outage; longer "
            "accepts captures after a longer outage but lets a replayed old upload count. Raise it "
            "only to load an archive of old captures on purpose."
        ),
    )
    handoff_publish_lease: timedelta = Field(
        timedelta(seconds=60),
        ge=timedelta(seconds=1),
        le=timedelta(minutes=15),
        description=(
            "How long the worker that stores a handoff keeps other deliveries from publishing it. "
            "Keep it at the function timeout and below the queues' visibility timeout: a crashed "
            "worker's handoff is then published by the next delivery; shorter risks a second publish "
            "during a slow broker call."
        ),
    )

    @property
    def capture_time_bounds(self) -> CaptureTimeBounds:
        """How far capture timestamps may lie from their objects' arrival."""
        return CaptureTimeBounds(max_ahead=self.capture_max_ahead, max_age=self.capture_max_age)

    presence_min_dwell: timedelta = Field(
        timedelta(minutes=10),
        ge=timedelta(seconds=1),
        le=timedelta(hours=2),
        description=(
            "Time a student must be seen in the room during the class (counted from the class start, "
            "not from an early arrival) before attendance is confirmed. Capped at half the class, so "
            "short classes still confirm. Longer proves more presence; shorter catches students who "
            "leave early less often."
        ),
    )
    proxy_entry_window_s: float = Field(
        30.0,
        ge=5.0,
        le=600.0,
        description=(
            "Proxy rule 'not confirmed': how long after (or before: the two cameras' clocks differ) "
            "a door recognition the room camera must tag a track that walked in through the door "
            "zone with that capture. Longer forgives a slow doorway; shorter flags a photo shown "
            "at the door by someone who never walks in sooner."
        ),
    )
    proxy_two_faces_window_s: float = Field(
        10.0,
        ge=1.0,
        le=120.0,
        description=(
            "Proxy rule 'one body, two faces': two door identities given to one room track within "
            "this time flag both students. Longer catches slower swaps but risks a track id the "
            "tracker reused for the next person."
        ),
    )

    @property
    def proxy_rules(self) -> ProxyRules:
        """The two cameras' proxy rules with these windows."""
        from cloud_functions.core.proxy_rules import ProxyRules  # imports the database layer

        return ProxyRules(
            entry_window_s=self.proxy_entry_window_s, two_faces_window_s=self.proxy_two_faces_window_s
        )

    reid_weights_path: Path = Field(
        DEFAULT_MODELS_DIR / "reid" / "osnet_x0_25_msmt17.onnx",
        description="OSNet body re-id weights (ONNX) used by body_match for crops and the body gallery.",
    )
    body_match_threshold: float = Field(
        0.75,
        ge=-1.0,
        le=1.0,
        description=(
            "Cosine similarity a body crop needs to a student's body print. Higher tags fewer "
            "strangers with a USN but leaves more students unknown (cam2 sends another crop later). "
            "On PETS09-S2L1 ground-truth crops (bench/body_match.py, three gallery crops a person) "
            "0.75 tags 72% of gallery people's later crops right and none wrong, and every person "
            "left out of the gallery stays unknown; 0.70 tags 79% right but 7% wrong. Through JPEG "
            "as cam2 sends crops, 0.75 gave 64 right and 2 wrong of 87."
        ),
    )
    body_match_margin: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description=(
            "Lead the best student needs over the runner-up student; closer calls (similar clothes) "
            "become 'unknown'."
        ),
    )
    min_body_px: int = Field(
        48,
        ge=16,
        le=1024,
        description="Body crops shorter than this (pixels) are rejected: too little to re-identify.",
    )
    body_gallery_max_per_student: int = Field(
        10,
        ge=1,
        le=100,
        description=(
            "Body prints kept per student, room and day. More covers more poses and costs a little "
            "matching time; further gallery crops are recorded and dropped."
        ),
    )
    body_print_retention_days: int = Field(
        0,
        ge=0,
        le=7,
        description=(
            "Body prints are deleted once older than this many days (0: only today's are kept). "
            "Clothes change from day to day, so older prints match worse and only add biometric data."
        ),
    )


class SweepSettings(DatabaseSettings):
    """Settings of the sweep function (absent marks at each session's end)."""

    sweep_grace: timedelta = Field(
        timedelta(minutes=15),
        ge=timedelta(0),
        le=timedelta(hours=12),
        description=(
            "A session is swept (roster students without a mark become absent) this long after it "
            "ends. Longer leaves time for late uploads from an offline classroom PC before a "
            "student shows absent; a later capture still replaces the absent either way."
        ),
    )


def sweep_settings() -> SweepSettings:
    """The sweep function's settings, read once per warm container."""
    return load_settings(SweepSettings)


class ReportSettings(DatabaseSettings, AttendanceRuleSettings):
    """Settings of the reports CLI: the database and the counting rule the API uses."""


class NotifySettings(AwsSettings, DatabaseSettings, AttendanceRuleSettings):
    """Settings of the notify function (the daily notification to each teacher)."""

    teacher_notifications_topic_arn: str = Field(
        ..., description="SNS topic the daily teacher notifications are published to."
    )
    notification_timezone: str = Field(
        "UTC",
        min_length=1,
        max_length=64,
        description=(
            "The college's time zone: a run's time in it names the day of the notifications "
            "(one per teacher and day). Use the rooms' zone, e.g. Asia/Kolkata."
        ),
    )
    notification_publish_lease: timedelta = Field(
        timedelta(minutes=2),
        ge=timedelta(seconds=5),
        le=timedelta(minutes=15),
        description=(
            "How long a run that stored a teacher's notification keeps other runs from publishing "
            "it. Keep it above the publish's time and at most the function timeout: a crashed "
            "run's message is then published by the next run."
        ),
    )

    @field_validator("notification_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {value!r}") from e
        return value


class CognitoSettings(AwsSettings):
    """The User Pool people sign in to, and its portal app client."""

    cognito_user_pool_id: str = Field(
        "",
        pattern=r"^$|^[\w-]+_[0-9A-Za-z]+$",
        description=(
            "The Cognito User Pool people sign in to (teachers and admins). Empty: no sign-in, "
            "only the machine tokens of CLASSSIGHT_API_TOKENS are accepted."
        ),
    )
    cognito_client_id: str = Field(
        "",
        pattern=r"^$|^[\w+]+$",
        description="The pool's app client of the portal; its id is the audience a token must name.",
    )
    cognito_jwks_url: str = Field(
        "",
        description=(
            "Where the pool's signing keys are published. Empty: derived from the pool id (the "
            "local endpoint's URL when CLASSSIGHT_AWS_ENDPOINT_URL is set, else Cognito's)."
        ),
    )

    @property
    def cognito_enabled(self) -> bool:
        """True when people can sign in (a pool and its app client are configured)."""
        return bool(self.cognito_user_pool_id and self.cognito_client_id)

    @property
    def cognito_issuer(self) -> str:
        """The ``iss`` of the pool's tokens (Cognito's URL, also on the local endpoint)."""
        region = self.cognito_user_pool_id.split("_", 1)[0] or self.aws_region
        return f"https://cognito-idp.{region}.amazonaws.com/{self.cognito_user_pool_id}"

    @property
    def resolved_jwks_url(self) -> str:
        """``cognito_jwks_url``, or the pool's well-known JWKS at the endpoint or at Cognito."""
        if self.cognito_jwks_url:
            return self.cognito_jwks_url
        # The local endpoint publishes each pool's keys under its own URL, as Cognito does under
        # the issuer's.
        if self.aws_endpoint_url:
            return f"{self.aws_endpoint_url}/{self.cognito_user_pool_id}/.well-known/jwks.json"
        return f"{self.cognito_issuer}/.well-known/jwks.json"


class ApiToken(BaseModel):
    """Who holds one API bearer token, and what they may do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        ..., min_length=1, max_length=200, description="Recorded as the actor in the audit log."
    )
    role: Literal["admin", "teacher"] = Field(
        ..., description="admin manages everything; teacher reads and corrects attendance."
    )


class ApiSettings(CognitoSettings, DatabaseSettings, AttendanceRuleSettings):
    """Settings of the HTTP API."""

    bucket_name: str = Field(..., description="Bucket holding captures and enrollment photos.")
    handoff_topic_arn: str = Field(
        "",
        description=(
            "The handoff topic. Set (the template sets it), a room added through the API gets its "
            "handoff queue, DLQ and filtered subscription before the room is stored; empty, rooms "
            "are stored alone and their queues must come from the template's RoomIds."
        ),
    )
    stage: str = Field(
        "dev",
        pattern=r"^[a-z][a-z0-9-]{0,15}$",
        description="Deployment stage, part of room queue names: classsight-<stage>-handoffs-<room_id>.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (comma-separated or a JSON list).",
    )
    api_tokens: dict[str, ApiToken] = Field(
        ...,
        min_length=1,
        description=(
            "Bearer tokens as JSON: lowercase hex sha256 of each token -> {name, role}. Only hashes "
            "are configured, so the setting itself grants nothing if it leaks."
        ),
    )
    max_body_bytes: int = Field(
        65_536,
        ge=1_024,
        le=1_048_576,
        description=(
            "Request bodies larger than this get 413 before parsing. Photos go to the bucket, not here."
        ),
    )
    import_max_bytes: int = Field(
        5_000_000,
        ge=10_000,
        le=50_000_000,
        description=(
            "Largest CSV/XLSX file the import routes accept (about 50,000 roster rows). Larger "
            "files are refused with 413; split them."
        ),
    )
    enrollment_photo_max_bytes: int = Field(
        5_000_000,
        ge=10_000,
        le=50_000_000,
        description=(
            "Largest enrollment photo a presigned upload accepts; keep it at the functions' max_image_bytes."
        ),
    )
    upload_url_expiry_s: int = Field(
        300,
        ge=30,
        le=3_600,
        description="Lifetime of a presigned upload. Shorter limits a leaked URL; longer suits slow links.",
    )

    jwks_cache_s: int = Field(
        3_600,
        ge=60,
        le=86_400,
        description=(
            "How long fetched signing keys are kept. A token signed with a key not in the cache "
            "refetches at once, so a rotated key is picked up regardless; longer saves fetches."
        ),
    )
    sign_in_max_failures_per_username: int = Field(
        5,
        ge=1,
        le=1_000,
        description=(
            "Failed sign-ins for one username within the window before that name is refused with "
            "429. Lower stops guessing sooner; a user who mistypes often gets locked out sooner."
        ),
    )
    sign_in_max_failures_per_address: int = Field(
        20,
        ge=1,
        le=10_000,
        description=(
            "Failed sign-ins from one client address within the window before it is refused with "
            "429. Higher suits a campus where many people share one NAT address."
        ),
    )
    sign_in_failure_window_s: int = Field(
        900,
        ge=10,
        le=86_400,
        description=(
            "Failures are counted over this many seconds from the first one; a refused name or "
            "address may try again when it ends. Longer slows guessing further."
        ),
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins_list(cls, value: Any) -> Any:
        # CloudFormation hands a list parameter over as "a,b"; people write JSON lists too.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @field_validator("api_tokens")
    @classmethod
    def _keys_are_sha256(cls, value: dict[str, ApiToken]) -> dict[str, ApiToken]:
        for key in value:
            if not re.fullmatch(r"[0-9a-f]{64}", key):
                raise ValueError("keys must be lowercase hex sha256 digests of the tokens")
        return value


class AccountsSettings(CognitoSettings, DatabaseSettings):
    """Settings of the accounts CLI: the pool, and the database its audit entries and sign-outs go to."""


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S]) -> S:
    """Build ``cls`` from the environment, or raise ``ConfigurationError`` naming what is wrong."""
    try:
        return cls()
    except ValidationError as e:
        problems = []
        for err in e.errors():
            field = ".".join(str(part) for part in err["loc"])
            variable = f"{ENV_PREFIX}{field.upper()}"
            problems.append(f"{variable}: {err['msg']}")
        raise ConfigurationError(f"{cls.__name__} is not valid: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def function_settings() -> FunctionSettings:
    """The functions' settings, read once per warm container."""
    return load_settings(FunctionSettings)
