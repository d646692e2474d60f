"""``[sensors.<id>.camera]``: the camera adapter's settings, validated where the file is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cuas.config.coerce import build, coerce
from cuas.errors import ConfigError

#: Background subtraction methods of the camera adapter.
CAMERA_METHODS = ("mog2", "knn")
#: Modalities of the appearance classifier (``auto``: thermal below 480 px wide).
CAMERA_MODALITIES = ("auto", "visible", "thermal")
#: What the adapter does with a blob the classifier calls background.
CLUTTER_ACTIONS = ("tag", "drop")


@dataclass(frozen=True, slots=True)
class CameraSettings:
    """``[sensors.<id>.camera]``: the camera adapter's source, lens, mount and detector.

    Pixels: x right, y down from the top-left corner. Angles in degrees: ``heading`` is the
    optical axis's azimuth (true north, clockwise), ``pitch`` its elevation, ``roll`` the turn
    about it (positive: the picture's right-hand side down). Intrinsics ``fx``, ``fy``, ``cx``,
    ``cy`` (px) at the calibrated ``width`` × ``height`` (rescaled to the stream's size), else
    a pinhole of horizontal field of view ``hfov_deg``; ``dist`` = OpenCV (k1, k2, p1, p2, k3).
    """

    #: A device index (``0``), an RTSP/HTTP URL or a video file.
    source: str | None = None
    hfov_deg: float = 60.0
    width: int | None = None
    height: int | None = None
    fx: float | None = None
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None
    dist: tuple[float, float, float, float, float] | None = None
    heading: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    #: 1-sigma of the mount's pointing (deg), added to each detection's pixel noise.
    calib_sigma_deg: float = 0.1
    #: Detector (see ``cuas.sensors.camera.detect.DetectorConfig``).
    method: str = "mog2"
    history: int = 300
    var_threshold: float = 36.0
    min_area_px: int = 4
    max_area_px: int = 20_000
    persistence: int = 2
    max_shift_px: float = 1.5
    max_brightness_jump: float = 3.0
    max_blobs: int = 50
    #: Process frames resized by this factor (< 1 for speed on large frames).
    scale: float = 1.0
    #: Sky: the horizon line's rows at the left and right edges (px; sky above), and/or a
    #: polygon ``[[x, y], ...]`` (px; sky inside).
    horizon: tuple[float, float] | None = None
    sky_polygon: tuple[tuple[float, float], ...] | None = None
    #: Files: UTC time (s) of the first frame (default: the file's modification time).
    start_time: float | None = None
    #: Appearance classifier (``cuas.sensors.camera.appearance``): on/off, model file (default:
    #: the shipped one), the stream's modality, and what becomes of blobs it calls background
    #: (``tag``: published with label ``background``, evidence clutter; ``drop``: not
    #: published, counted) when their background probability is at least ``clutter_min_prob``.
    classify: bool = True
    model: str | None = None
    modality: str = "auto"
    clutter: str = "tag"
    clutter_min_prob: float = 0.5


def parse_settings(table: Any, key: str, path: str | None) -> CameraSettings:
    """Validate a ``[sensors.<id>.camera]`` table."""
    extra: dict[str, Any] = {}
    if isinstance(table, dict) and "sky_polygon" in table:
        poly = table["sky_polygon"]
        if not (isinstance(poly, list) and len(poly) >= 3 and all(
                isinstance(p, list) and len(p) == 2 for p in poly)):
            raise ConfigError("expected a list of at least 3 [x, y] pixel pairs", path=path,
                              key=f"{key}.sky_polygon")
        extra["sky_polygon"] = tuple(
            (coerce(p[0], float, f"{key}.sky_polygon[{i}]", path),
             coerce(p[1], float, f"{key}.sky_polygon[{i}]", path)) for i, p in enumerate(poly))
        table = {k: v for k, v in table.items() if k != "sky_polygon"}
    cfg = build(CameraSettings, table, key, path, **extra)
    if cfg.method not in CAMERA_METHODS:
        raise ConfigError(f"unknown method (known: {', '.join(CAMERA_METHODS)})", path=path,
                          key=f"{key}.method")
    for name, value, known in (("modality", cfg.modality, CAMERA_MODALITIES),
                                ("clutter", cfg.clutter, CLUTTER_ACTIONS)):
        if value not in known:
            raise ConfigError(f"unknown {name} (known: {', '.join(known)})", path=path,
                              key=f"{key}.{name}")
    intrinsics = (cfg.fx, cfg.fy, cfg.cx, cfg.cy, cfg.width, cfg.height)
    if any(v is not None for v in intrinsics[:4]) and any(v is None for v in intrinsics):
        raise ConfigError("give all of fx, fy, cx, cy, width, height (or none: hfov_deg)",
                          path=path, key=f"{key}.fx")
    checks: list[tuple[str, bool, str]] = [
        ("hfov_deg", 1.0 <= cfg.hfov_deg <= 179.0, "must lie in [1, 179] degrees"),
        ("fx", cfg.fx is None or cfg.fx > 0, "must be > 0 px"),
        ("fy", cfg.fy is None or cfg.fy > 0, "must be > 0 px"),
        ("width", cfg.width is None or 8 <= cfg.width <= 8192, "must lie in [8, 8192] px"),
        ("height", cfg.height is None or 8 <= cfg.height <= 8192, "must lie in [8, 8192] px"),
        ("pitch", -90.0 <= cfg.pitch <= 90.0, "must lie in [-90, 90] degrees"),
        ("roll", -180.0 <= cfg.roll <= 180.0, "must lie in [-180, 180] degrees"),
        ("heading", -360.0 <= cfg.heading <= 360.0, "must lie in [-360, 360] degrees"),
        ("calib_sigma_deg", 0.0 <= cfg.calib_sigma_deg <= 30.0, "must lie in [0, 30] degrees"),
        ("history", 2 <= cfg.history <= 100_000, "must lie in [2, 100000] frames"),
        ("var_threshold", 1.0 <= cfg.var_threshold <= 10_000.0, "must lie in [1, 10000]"),
        ("min_area_px", 1 <= cfg.min_area_px <= cfg.max_area_px,
         "must lie in [1, max_area_px]"),
        ("persistence", 1 <= cfg.persistence <= 30, "must lie in [1, 30] frames"),
        ("max_shift_px", cfg.max_shift_px > 0, "must be > 0 px"),
        ("max_brightness_jump", cfg.max_brightness_jump > 0, "must be > 0 grey levels"),
        ("max_blobs", 1 <= cfg.max_blobs <= 10_000, "must lie in [1, 10000]"),
        ("scale", 0.05 <= cfg.scale <= 1.0, "must lie in [0.05, 1]"),
        ("clutter_min_prob", 0.0 <= cfg.clutter_min_prob <= 1.0, "must lie in [0, 1]"),
        ("start_time", cfg.start_time is None or 946_684_800.0 <= cfg.start_time < 4_102_444_800.0,
         "must be UTC seconds within 2000..2100"),
    ]
    for name, ok, problem in checks:
        if not ok:
            raise ConfigError(problem, path=path, key=f"{key}.{name}")
    return cfg

