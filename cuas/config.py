"""Site configuration: TOML files in ``configs/``, validated once into frozen dataclasses.

Every error names the file, the dotted key and the problem. Unknown keys are errors too: a
misspelt key in a security system's config must not be silently ignored.

The built-in defaults describe the reference site, Wembley Stadium, London.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cuas.errors import ConfigError

#: Wembley Stadium, London: centre spot of the pitch. Height above the WGS-84 ellipsoid:
#: ground ~44 m above mean sea level plus ~46 m geoid undulation in north-west London.
WEMBLEY = (51.5560, -0.2796, 90.0)

#: ``daemon_id`` is the ``src`` of every message the daemon publishes, and the wire schema
#: (``wire.schema.json``) caps ``src`` at 128 characters.
MAX_DAEMON_ID = 128


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """The site origin of the local ENU frame (degrees, metres above the WGS-84 ellipsoid)."""

    name: str = "wembley"
    lat: float = WEMBLEY[0]
    lon: float = WEMBLEY[1]
    h: float = WEMBLEY[2]

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat <= 90.0:
            raise ConfigError(f"latitude {self.lat} outside [-90, 90]", key="site.lat")
        if not -180.0 <= self.lon <= 180.0:
            raise ConfigError(f"longitude {self.lon} outside [-180, 180]", key="site.lon")
        if not -12_000.0 <= self.h <= 10_000.0:
            raise ConfigError(f"height {self.h} m is not plausible", key="site.h")


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Tracker parameters. Units: metres, seconds, m/s, m/s^2."""

    #: Process noise: white-noise acceleration spectral density, horizontal and vertical
    #: (m^2/s^3). Drones manoeuvre hard, so these are generous.
    accel_noise_h: float = 4.0
    accel_noise_v: float = 1.0
    #: 1-sigma of the unknown velocity of a new track (m/s), per horizontal axis / vertical.
    init_speed_sigma: float = 30.0
    init_vspeed_sigma: float = 8.0
    #: Probability that the true detection falls inside the Mahalanobis gate.
    gate_probability: float = 0.9999
    #: Confirmation: M hits in the last N looks.
    confirm_m: int = 3
    confirm_n: int = 5
    #: A confirmed track coasts after this many consecutive misses or this long without update.
    coast_misses: int = 1
    coast_after_s: float = 2.0
    #: Deletion: consecutive misses, time since the last update, or position uncertainty growth.
    delete_misses_tentative: int = 2
    delete_misses_confirmed: int = 6
    delete_after_s_tentative: float = 5.0
    delete_after_s_confirmed: float = 12.0
    #: Tracks holding a cooperative identity (ICAO, Remote ID) outlive silence longer: an
    #: aircraft heard only now and then is one aircraft, not a new track each time.
    delete_after_s_identified: float = 60.0
    max_pos_sigma: float = 300.0
    #: Reorder buffer: how late a batch may arrive (s) before it is dropped as late.
    lateness_s: float = 0.5
    #: A batch more than this far ahead of the stream's clock (or the wall clock, live) is
    #: dropped as absurd instead of flinging every track into the future.
    max_future_s: float = 300.0
    #: Bearings (cameras): an unclaimed bearing waits this long (s) for one from another
    #: sensor to triangulate a new track with; rays that miss the fitted point by more than
    #: ``bearing_gate_sigma`` of their own uncertainty belong to different targets.
    bearing_window_s: float = 0.25
    bearing_gate_sigma: float = 4.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and (not math.isfinite(v) or v < 0):
                raise ConfigError(f"must be a finite number >= 0, got {v}", key=f"tracker.{f.name}")
        for name in ("accel_noise_h", "accel_noise_v", "init_speed_sigma", "init_vspeed_sigma",
                     "max_pos_sigma"):
            if getattr(self, name) <= 0:
                raise ConfigError("must be > 0", key=f"tracker.{name}")
        if not 0.5 <= self.gate_probability < 1.0:
            raise ConfigError("must lie in [0.5, 1)", key="tracker.gate_probability")
        if not 1 <= self.confirm_m <= self.confirm_n <= 32:
            raise ConfigError("need 1 <= confirm_m <= confirm_n <= 32", key="tracker.confirm_m")
        for name in ("coast_misses", "delete_misses_tentative", "delete_misses_confirmed"):
            if not 1 <= getattr(self, name) <= 10_000:  # the miss counter is 16-bit
                raise ConfigError("must lie in [1, 10000]", key=f"tracker.{name}")
        if not 0.0 < self.bearing_window_s <= 10.0:
            raise ConfigError("must lie in (0, 10] s", key="tracker.bearing_window_s")
        if not 1.0 <= self.bearing_gate_sigma <= 100.0:
            raise ConfigError("must lie in [1, 100]", key="tracker.bearing_gate_sigma")


#: Formats the ADS-B adapter reads (``auto``: detected from the first bytes).
ADSB_FORMATS = ("auto", "beast", "sbs", "avr")


@dataclass(frozen=True, slots=True)
class AdsbConfig:
    """``[sensors.<id>.adsb]``: the ADS-B adapter's feed and decoding (degrees, metres, s)."""

    #: ``tcp://HOST:PORT`` of a dump1090/readsb feed (Beast 30005, SBS 30003, AVR 30002) or a
    #: capture file.
    source: str | None = None
    format: str = "auto"
    #: Zone of the SBS feed's time stamps (SBS-1 sends local time without a zone): an IANA
    #: name such as ``Europe/Moscow``, or ``UTC``.
    sbs_timezone: str = "UTC"
    #: UTC time (s) of the first frame of a Beast capture file (default: a 10-digit Unix time
    #: in the file name, else the file's modification time).
    start_time: float | None = None
    #: Receiver position [lat, lon]: a CPR reference for an aircraft's first message, used only
    #: when given (never a default that may be far away), and only for solutions within
    #: ``reference_range_km`` of it.
    reference: tuple[float, float] | None = None
    reference_range_km: float = 300.0
    #: Per-aircraft decoding state is forgotten after this much silence (s).
    evict_after_s: float = 60.0
    #: Horizontal 1-sigma (m) when a message gives no accuracy (NACp/NIC/NUCp), and for SBS.
    default_sigma_m: float = 100.0


def _adsb(table: Any, key: str, path: str | None) -> AdsbConfig:
    """Validate a ``[sensors.<id>.adsb]`` table."""
    cfg = _build(AdsbConfig, table, key, path)
    if cfg.format not in ADSB_FORMATS:
        raise ConfigError(f"unknown format (known: {', '.join(ADSB_FORMATS)})", path=path,
                          key=f"{key}.format")
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(cfg.sbs_timezone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ConfigError(f"unknown time zone {_brief(cfg.sbs_timezone)}", path=path,
                          key=f"{key}.sbs_timezone") from None
    if cfg.reference is not None and not (-90 <= cfg.reference[0] <= 90
                                          and -180 <= cfg.reference[1] <= 180):
        raise ConfigError("must be [lat, lon] in degrees", path=path, key=f"{key}.reference")
    # CPR local decoding is unambiguous only within half a latitude zone (3 degrees, ~333 km).
    if not 0 < cfg.reference_range_km <= 300.0:
        raise ConfigError("must lie in (0, 300] km", path=path, key=f"{key}.reference_range_km")
    if not 1.0 <= cfg.evict_after_s <= 86_400.0:
        raise ConfigError("must lie in [1, 86400] s", path=path, key=f"{key}.evict_after_s")
    if not 1.0 <= cfg.default_sigma_m <= 100_000.0:
        raise ConfigError("must lie in [1, 100000] m", path=path, key=f"{key}.default_sigma_m")
    if cfg.start_time is not None and not 946_684_800.0 <= cfg.start_time < 4_102_444_800.0:
        raise ConfigError("must be UTC seconds within 2000..2100", path=path,
                          key=f"{key}.start_time")
    return cfg


@dataclass(frozen=True, slots=True)
class SapientNodeConfig:
    """``[sensors.<id>.sapient]``: a SAPIENT sensor module (ASM) known to the site; its
    detections are published as sensor ``<id>`` and its range-bearing reports measured from the
    sensor's ``origin`` when its StatusReport gives no node location."""

    #: The module's SAPIENT node id (a UUID).
    node_id: str = ""
    #: Degrees added to the module's azimuths to give true-north azimuths, for modules that
    #: report against magnetic north (the declination) or their platform's heading.
    north_offset_deg: float | None = None
    #: UTM zone (e.g. ``30U``) for UTM locations that do not name their own.
    utm_zone: str | None = None


def _sapient_node(table: Any, key: str, path: str | None) -> SapientNodeConfig:
    """Validate a ``[sensors.<id>.sapient]`` table."""
    import uuid

    cfg = _build(SapientNodeConfig, table, key, path)
    try:
        uuid.UUID(cfg.node_id)
    except ValueError:
        raise ConfigError("must be the module's node id (a UUID)", path=path,
                          key=f"{key}.node_id") from None
    if cfg.north_offset_deg is not None and not -360.0 <= cfg.north_offset_deg <= 360.0:
        raise ConfigError("must lie in [-360, 360] degrees", path=path,
                          key=f"{key}.north_offset_deg")
    return cfg


#: ``cot.url`` schemes: UDP (multicast or unicast), a TAK server over TCP or TLS.
COT_SCHEMES = ("udp", "tcp", "tls")


@dataclass(frozen=True, slots=True)
class CotConfig:
    """``[cot]``: ``cuas export cot``, Cursor on Target to TAK (seconds; file paths)."""

    #: ``udp://239.2.3.1:6969`` (the TAK SA multicast group), ``tcp://HOST:8087`` or
    #: ``tls://HOST:8089`` (a TAK server).
    url: str = "udp://239.2.3.1:6969"
    #: Multicast hop limit (1: this network only) and the IPv4 address of the interface.
    ttl: int = 1
    interface: str | None = None
    #: TLS: the CA that signed the server's certificate (default: the system's), and this
    #: client's certificate and key (PEM) when the server asks for one.
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    #: Seconds between updates of an unchanged track, and between node announcements.
    period_s: float = 1.0
    node_period_s: float = 30.0
    #: Send birds and clutter too (normally only UAVs and manned aircraft).
    send_all: bool = False

    def __post_init__(self) -> None:
        scheme, sep, rest = self.url.partition("://")
        host, _, port = rest.rpartition(":")
        if not sep or scheme not in COT_SCHEMES or not host or not port.isdigit() \
                or not 0 < int(port) < 65536:
            raise ConfigError(f"expected udp://, tcp:// or tls://HOST:PORT, got "
                              f"{_brief(self.url)}", key="cot.url")
        if not 0 <= self.ttl <= 255:
            raise ConfigError("must lie in [0, 255]", key="cot.ttl")
        if not 0.05 <= self.period_s <= 3600.0:
            raise ConfigError("must lie in [0.05, 3600] s", key="cot.period_s")
        if not 1.0 <= self.node_period_s <= 3600.0:
            raise ConfigError("must lie in [1, 3600] s", key="cot.node_period_s")


@dataclass(frozen=True, slots=True)
class SapientConfig:
    """``[sapient]``: ``cuas sapient serve`` (a SAPIENT fusion node) and ``cuas sapient export``
    (cuas reporting upward). Lengths in metres, angles in degrees."""

    #: ``HOST:PORT`` that ``cuas sapient serve`` listens on for sensor modules.
    listen: str = "127.0.0.1:5020"
    #: ``HOST:PORT`` of the higher fusion node that ``cuas sapient export`` reports to.
    export_to: str | None = None
    #: Name of cuas as a SAPIENT node; its node id is a UUID derived from it unless given.
    node_name: str = "cuas"
    node_id: str | None = None
    #: 1-sigma used when a report gives no error: horizontal position (m), angles (degrees),
    #: and height (m) when a location has no z at all (it is then the site's height).
    default_sigma_m: float = 25.0
    default_angle_sigma_deg: float = 2.0
    unknown_height_sigma_m: float = 300.0
    #: Largest SAPIENT message accepted (bytes).
    max_message_bytes: int = 1 << 20
    #: Export tentative tracks too (default: confirmed and coasting ones only).
    export_tentative: bool = False
    #: Seconds between the StatusReports ``cuas sapient export`` sends upward.
    status_interval_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("default_sigma_m", "unknown_height_sigma_m"):
            if not 0.1 <= getattr(self, name) <= 100_000.0:
                raise ConfigError("must lie in [0.1, 100000] m", key=f"sapient.{name}")
        if not 0.01 <= self.default_angle_sigma_deg <= 90.0:
            raise ConfigError("must lie in [0.01, 90] degrees",
                              key="sapient.default_angle_sigma_deg")
        if not 64 <= self.max_message_bytes <= 64 << 20:
            raise ConfigError("must lie in [64, 67108864] bytes", key="sapient.max_message_bytes")
        if not 0.1 <= self.status_interval_s <= 3600.0:
            raise ConfigError("must lie in [0.1, 3600] s", key="sapient.status_interval_s")
        if self.node_id is not None:
            import uuid

            try:
                uuid.UUID(self.node_id)
            except ValueError:
                raise ConfigError("must be a UUID", key="sapient.node_id") from None
        for name in ("listen", "export_to"):
            value = getattr(self, name)
            if value is not None and not is_host_port(value):
                raise ConfigError(f"expected HOST:PORT, got {_brief(value)}",
                                  key=f"sapient.{name}")


def is_host_port(text: str) -> bool:
    """True for ``HOST:PORT`` with a port in 0..65535 (``[v6addr]:PORT`` allowed)."""
    host, sep, port = text.rpartition(":")
    return bool(sep and host and port.isdigit() and int(port) <= 65535)


@dataclass(frozen=True, slots=True)
class RemoteIdConfig:
    """``[sensors.<id>.remoteid]``: the Remote ID receiver (metres, seconds)."""

    #: A pcap/pcapng capture file, ``iface:NAME`` (a monitor-mode Wi-Fi interface, Linux,
    #: needs CAP_NET_RAW) or ``wardragon://HOST:PORT`` (a WarDragon/DragonSync ZeroMQ feed).
    source: str | None = None
    #: Horizontal 1-sigma (m) when a message's accuracy class is "unknown".
    default_sigma_m: float = 50.0
    #: Height above the WGS-84 ellipsoid (m) of the ground the drones take off from, used when a
    #: message gives only a height above take-off or ground (default: the site origin's).
    ground_h: float | None = None
    #: A transmitter's decoding state (its ids, the operator) is forgotten after this silence.
    evict_after_s: float = 120.0
    #: At most one identity-only report (no valid position) per transmitter per this many s.
    identity_period_s: float = 1.0


def _remoteid(table: Any, key: str, path: str | None) -> RemoteIdConfig:
    """Validate a ``[sensors.<id>.remoteid]`` table."""
    cfg = _build(RemoteIdConfig, table, key, path)
    if not 0.1 <= cfg.default_sigma_m <= 100_000.0:
        raise ConfigError("must lie in [0.1, 100000] m", path=path, key=f"{key}.default_sigma_m")
    if cfg.ground_h is not None and not -12_000.0 <= cfg.ground_h <= 10_000.0:
        raise ConfigError("not a plausible height (m)", path=path, key=f"{key}.ground_h")
    if not 1.0 <= cfg.evict_after_s <= 86_400.0:
        raise ConfigError("must lie in [1, 86400] s", path=path, key=f"{key}.evict_after_s")
    if not 0.0 <= cfg.identity_period_s <= 3_600.0:
        raise ConfigError("must lie in [0, 3600] s", path=path, key=f"{key}.identity_period_s")
    return cfg


#: What the RF adapter publishes: ``links`` (control and video links only: what the tracker
#: treats as a drone's link) or ``all`` (every emitter, ISM devices too, each with its guess).
RF_PUBLISH = ("links", "all")


@dataclass(frozen=True, slots=True)
class RfConfig:
    """``[sensors.<id>.rf]``: the RTL-SDR adapter's receiver and scan plan (Hz, s, dB, degrees).

    The scan visits each band in hops of the usable width (``rate_hz`` less the cropped
    edges), ``dwell_s`` per hop after ``settle_s`` for the tuner to settle.
    """

    #: ``rtltcp://HOST:PORT``, ``rtlsdr://INDEX`` or a cu8 file (``NAME_<freq>_<rate>.cu8``).
    source: str | None = None
    rate_hz: float = 2_400_000.0
    #: Bands scanned, [[low_hz, high_hz], ...]; default EU868 and 433 MHz ISM.
    bands: tuple[tuple[float, float], ...] = ((863_000_000.0, 870_000_000.0),
                                              (433_050_000.0, 434_790_000.0))
    dwell_s: float = 0.2
    settle_s: float = 0.005
    #: Share of the hop cropped at each edge (the tuner's anti-alias roll-off), 0..0.4.
    crop: float = 0.1
    #: Tuner gain (dB, snapped to the tuner's steps); stepped down when over ``clip_max`` of
    #: a block's bytes sit at the rails. ``agc`` = true leaves the gain to the dongle.
    gain_db: float = 28.0
    agc: bool = False
    clip_max: float = 0.01
    ppm: int = 0
    #: dBm at the antenna that reaches full scale at 0 dB tuner gain: rssi_dbm = power (dBFS)
    #: + full_scale_dbm - gain. The default is nominal for an R820T dongle, not a calibration.
    full_scale_dbm: float = -10.0
    #: Bearing sector [az_from, az_to] (degrees true, clockwise) a directional antenna covers:
    #: detections then carry frame ``ae`` at the sector's centre; else frame ``none``.
    bearing: tuple[float, float] | None = None
    publish: str = "links"
    #: How long chirp packets count towards a band's hop statistics (s).
    hop_window_s: float = 5.0


def _rf(table: Any, key: str, path: str | None) -> RfConfig:
    """Validate a ``[sensors.<id>.rf]`` table (``bands`` a list of [low_hz, high_hz])."""
    bands = None
    if isinstance(table, dict) and "bands" in table:
        raw = table["bands"]
        if not isinstance(raw, list) or not raw or len(raw) > 64:
            raise ConfigError("expected a list of 1-64 [low_hz, high_hz] pairs", path=path,
                              key=f"{key}.bands")
        bands = tuple(_coerce(b, tuple[float, float], f"{key}.bands[{i}]", path)
                      for i, b in enumerate(raw))
        for i, (lo, hi) in enumerate(bands):
            if not 24e6 <= lo < hi <= 1.8e9:
                raise ConfigError("must be [low_hz, high_hz] with 24 MHz <= low < high <= "
                                  "1.8 GHz (an RTL-SDR's range)", path=path,
                                  key=f"{key}.bands[{i}]")
        table = {k: v for k, v in table.items() if k != "bands"}
    cfg = _build(RfConfig, table, key, path)
    if bands is not None:
        cfg = dataclasses.replace(cfg, bands=bands)
    checks = (("rate_hz", 225_001.0, 3_200_000.0), ("dwell_s", 0.01, 60.0),
              ("settle_s", 0.0, 1.0), ("crop", 0.0, 0.4), ("gain_db", 0.0, 50.0),
              ("clip_max", 0.0, 1.0), ("full_scale_dbm", -100.0, 30.0),
              ("hop_window_s", 0.1, 600.0))
    for name, lo_, hi_ in checks:
        if not lo_ <= getattr(cfg, name) <= hi_:
            raise ConfigError(f"must lie in [{lo_:g}, {hi_:g}]", path=path, key=f"{key}.{name}")
    if not -1000 <= cfg.ppm <= 1000:
        raise ConfigError("must lie in [-1000, 1000]", path=path, key=f"{key}.ppm")
    if cfg.publish not in RF_PUBLISH:
        raise ConfigError(f"unknown publish (known: {', '.join(RF_PUBLISH)})", path=path,
                          key=f"{key}.publish")
    if cfg.bearing is not None and not all(0 <= a <= 360 for a in cfg.bearing):
        raise ConfigError("must be [az_from, az_to] in degrees 0..360", path=path,
                          key=f"{key}.bearing")
    return cfg


#: Background subtraction methods of the camera adapter.
CAMERA_METHODS = ("mog2", "knn")


@dataclass(frozen=True, slots=True)
class CameraConfig:
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


def _camera(table: Any, key: str, path: str | None) -> CameraConfig:
    """Validate a ``[sensors.<id>.camera]`` table."""
    extra: dict[str, Any] = {}
    if isinstance(table, dict) and "sky_polygon" in table:
        poly = table["sky_polygon"]
        if not (isinstance(poly, list) and len(poly) >= 3 and all(
                isinstance(p, list) and len(p) == 2 for p in poly)):
            raise ConfigError("expected a list of at least 3 [x, y] pixel pairs", path=path,
                              key=f"{key}.sky_polygon")
        extra["sky_polygon"] = tuple(
            (_coerce(p[0], float, f"{key}.sky_polygon[{i}]", path),
             _coerce(p[1], float, f"{key}.sky_polygon[{i}]", path)) for i, p in enumerate(poly))
        table = {k: v for k, v in table.items() if k != "sky_polygon"}
    cfg = _build(CameraConfig, table, key, path, **extra)
    if cfg.method not in CAMERA_METHODS:
        raise ConfigError(f"unknown method (known: {', '.join(CAMERA_METHODS)})", path=path,
                          key=f"{key}.method")
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
        ("start_time", cfg.start_time is None or 946_684_800.0 <= cfg.start_time < 4_102_444_800.0,
         "must be UTC seconds within 2000..2100"),
    ]
    for name, ok, problem in checks:
        if not ok:
            raise ConfigError(problem, path=path, key=f"{key}.{name}")
    return cfg


@dataclass(frozen=True, slots=True)
class SensorConfig:
    """A sensor known to the site: where it is and how its batches are to be read."""

    id: str
    kind: str = "sim"
    #: Sensor position (lat, lon, h); used for `rae`/`ae` batches that carry no origin.
    origin: tuple[float, float, float] | None = None
    #: Whether a batch is a full look (a track it does not see has been missed). Defaults by kind.
    scanning: bool | None = None
    #: Tracks beyond this range (m) from the sensor are not counted as missed by it.
    max_range_m: float | None = None
    #: ADS-B adapter settings (``[sensors.<id>.adsb]``), for ``cuas sensor adsb``.
    adsb: AdsbConfig | None = None
    #: RTL-SDR adapter settings (``[sensors.<id>.rf]``), for ``cuas sensor rf``.
    rf: RfConfig | None = None
    #: Remote ID receiver settings (``[sensors.<id>.remoteid]``), for ``cuas sensor remoteid``.
    remoteid: RemoteIdConfig | None = None
    #: SAPIENT module settings (``[sensors.<id>.sapient]``), for ``cuas sapient serve``.
    sapient: SapientNodeConfig | None = None
    #: Camera adapter settings (``[sensors.<id>.camera]``), for ``cuas sensor camera``.
    camera: CameraConfig | None = None

    @property
    def is_scanning(self) -> bool:
        """True when each batch of this sensor is a full look at its coverage."""
        if self.scanning is not None:
            return self.scanning
        from cuas.sensors import registry  # the registry imports no adapter

        return registry.get(self.kind).scanning


#: ``bus.security`` values: ``none`` (plain ZeroMQ, loopback and ipc only: development) and
#: ``curve`` (CurveZMQ encryption, the daemon accepting only listed client keys).
BUS_SECURITY = ("none", "curve")


def is_local_endpoint(endpoint: str) -> bool:
    """True for a ZeroMQ endpoint no other machine can reach: ``ipc://``, ``inproc://`` or
    ``tcp://`` on a loopback address (127.0.0.0/8, ``localhost``, ``::1``)."""
    scheme, _, rest = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host = rest.rsplit(":", 1)[0].split(";")[-1]  # "src;dst" connect form: the destination
    host = host.strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


@dataclass(frozen=True, slots=True)
class BusConfig:
    """ZeroMQ endpoints: the daemon binds both; sensors connect to `detections`.

    Key files are those ``cuas keys`` writes (ZeroMQ certificate files); a relative path is
    relative to the configuration file's directory.
    """

    detections: str = "tcp://127.0.0.1:5550"
    tracks: str = "tcp://127.0.0.1:5551"
    #: ``none`` or ``curve`` (see :data:`BUS_SECURITY`); ``none`` is refused on any endpoint
    #: another machine could reach.
    security: str = "none"
    #: Daemon: its secret key file (``<name>.key_secret``).
    server_secret_key: str | None = None
    #: Sensors and operators: the daemon's public key file (``<name>.key``).
    server_public_key: str | None = None
    #: Sensors and operators: their own secret key file.
    client_secret_key: str | None = None
    #: Daemon: directory of the public key files (``*.key``) of the clients it accepts.
    allowed_clients: str | None = None

    def __post_init__(self) -> None:
        if self.security not in BUS_SECURITY:
            raise ConfigError(f"unknown security {_brief(self.security)} (known: "
                              f"{', '.join(BUS_SECURITY)})", key="bus.security")
        if self.security == "none":
            for name in ("detections", "tracks"):
                if not is_local_endpoint(getattr(self, name)):
                    raise ConfigError(
                        "plain ZeroMQ (security = \"none\") is only for loopback or ipc "
                        "endpoints; set bus.security = \"curve\" with keys from `cuas keys`",
                        key=f"bus.{name}")


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """The fusion daemon's publishing and buffering."""

    #: Most tracks snapshots per second (one follows soon after each change, up to this rate).
    snapshot_hz: float = 2.0
    #: Largest number of received batches waiting for the tracker; beyond it the oldest is
    #: dropped and counted.
    queue_size: int = 10_000

    def __post_init__(self) -> None:
        if not 0.01 <= self.snapshot_hz <= 1000.0:
            raise ConfigError("must lie in [0.01, 1000]", key="daemon.snapshot_hz")
        if not 1 <= self.queue_size <= 10_000_000:
            raise ConfigError("must lie in [1, 10000000]", key="daemon.queue_size")


#: Threat levels in rising order (the contract's ``threat`` values).
THREAT_LEVELS = ("none", "low", "medium", "high", "critical")
#: Zone kinds. ``no_fly``: no drone may be here; ``perimeter``: a security ring around the
#: venue; ``takeoff_exclusion``: where a launch is itself a threat; ``crowd``: people below.
ZONE_KINDS = ("no_fly", "perimeter", "takeoff_exclusion", "crowd")


@dataclass(frozen=True, slots=True)
class ZoneConfig:
    """A zone: a horizontal polygon with a height band and its rule.

    ``enu`` vertices are metres east/north of the site origin; ``lla`` vertices are
    [lat, lon] degrees (exactly one of the two is given). ``floor_m``/``ceiling_m`` are heights
    above the site origin (m). ``level`` is the least threat of a likely drone inside;
    ``crowd`` marks people below (loitering over it is a threat of its own).
    """

    id: str
    label: str = ""
    kind: str = "no_fly"
    enu: tuple[tuple[float, float], ...] | None = None
    lla: tuple[tuple[float, float], ...] | None = None
    floor_m: float = -100.0
    ceiling_m: float = 10_000.0
    level: str = "high"
    crowd: bool = False

    @property
    def name(self) -> str:
        """What an operator reads: the label, or the id."""
        return self.label or self.id


@dataclass(frozen=True, slots=True)
class AssetConfig:
    """A protected asset: a point (``enu`` metres, or ``lla`` [lat, lon, h]) and a radius (m)."""

    id: str
    label: str = ""
    enu: tuple[float, float, float] | None = None
    lla: tuple[float, float, float] | None = None
    radius_m: float = 0.0

    @property
    def name(self) -> str:
        return self.label or self.id


@dataclass(frozen=True, slots=True)
class IdentityList:
    """Remote ID serials and ICAO addresses (6 lower-case hex), each with a label for people."""

    rid: Mapping[str, str] = field(default_factory=dict)
    icao: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClassifyConfig:
    """Classifier and threat settings (seconds, probabilities in [0, 1])."""

    #: Turn classification and threat off: tracks then carry the contract's neutral values.
    enabled: bool = True
    #: A level may fall only after the score has stayed below its threshold (less
    #: ``hysteresis``) for ``hold_s`` seconds; rising is immediate.
    hysteresis: float = 0.08
    hold_s: float = 5.0
    #: An RF control link heard within this many seconds counts as active.
    rf_window_s: float = 5.0
    #: A Remote ID report farther than this from its track (m) disagrees with it.
    rid_mismatch_m: float = 60.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.hysteresis <= 0.5:
            raise ConfigError("must lie in [0, 0.5]", key="classify.hysteresis")
        for name in ("hold_s", "rf_window_s", "rid_mismatch_m"):
            v = getattr(self, name)
            if not 0.0 <= v <= 86_400.0:
                raise ConfigError("must lie in [0, 86400]", key=f"classify.{name}")


@dataclass(frozen=True, slots=True)
class Config:
    """A whole site configuration."""

    site: SiteConfig = field(default_factory=SiteConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    bus: BusConfig = field(default_factory=BusConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    sensors: Mapping[str, SensorConfig] = field(default_factory=dict)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    zones: tuple[ZoneConfig, ...] = ()
    assets: tuple[AssetConfig, ...] = ()
    #: Friendly aircraft and drones (police, broadcasters, the venue's own) and known hostiles.
    allow: IdentityList = field(default_factory=IdentityList)
    deny: IdentityList = field(default_factory=IdentityList)
    #: The id this daemon publishes under (`src` of tracks and status).
    daemon_id: str = "cuas"
    #: ``cuas sapient serve`` / ``export`` settings (``[sapient]``).
    sapient: SapientConfig = field(default_factory=SapientConfig)
    #: ``cuas export cot`` settings (``[cot]``).
    cot: CotConfig = field(default_factory=CotConfig)
    path: str | None = None

    def sensor(self, sensor_id: str, kind: str = "sim") -> SensorConfig:
        """The configured sensor, or a default one of ``kind`` when the config does not name it."""
        found = self.sensors.get(sensor_id)
        return found if found is not None else SensorConfig(id=sensor_id, kind=kind)


def reference_config() -> Config:
    """The built-in reference defaults (Wembley Stadium, no sensors configured)."""
    return Config()


T = TypeVar("T")

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60


def _brief(value: Any) -> str:
    """A short repr for an error message.

    A plain ``!r`` raised ValueError for an integer of more than 4300 digits (``parse_config``
    takes any mapping, not only what tomllib produced) and printed huge values whole.
    """
    try:
        return _REPR.repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__}>"


def _coerce(value: Any, tp: Any, key: str, path: str | None) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {_brief(value)}", path=path, key=key)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"expected an integer, got {_brief(value)}", path=path, key=key)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"expected a number, got {_brief(value)}", path=path, key=key)
        try:
            f = float(value)
        except OverflowError:  # an integer beyond float range: isfinite() raised it bare
            raise ConfigError("number too large", path=path, key=key) from None
        if not math.isfinite(f):
            raise ConfigError(f"expected a finite number, got {_brief(value)}", path=path, key=key)
        return f
    if tp is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"expected a non-empty string, got {_brief(value)}", path=path, key=key)
        return value
    if origin is tuple:
        if not isinstance(value, list) or len(value) != len(args):
            raise ConfigError(f"expected a list of {len(args)} values, got {_brief(value)}",
                              path=path, key=key)
        return tuple(_coerce(v, a, f"{key}[{i}]", path) for i, (v, a) in enumerate(zip(value, args, strict=True)))
    raise ConfigError(f"unsupported type for {key}", path=path, key=key)  # pragma: no cover


def _build(cls: type[T], table: Any, key: str, path: str | None, **extra: Any) -> T:
    if not isinstance(table, dict):
        raise ConfigError(f"expected a table, got {_brief(table)}", path=path, key=key)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = dict(extra)
    for k, v in table.items():
        if k not in names or k in extra:
            raise ConfigError(f"unknown key (known: {', '.join(sorted(names - set(extra)))})",
                              path=path, key=f"{key}.{k}")
        kwargs[k] = _coerce(v, hints[k], f"{key}.{k}", path)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(exc.problem, path=path, key=exc.key) from None


def parse_config(doc: Mapping[str, Any], path: str | None = None) -> Config:
    """Validate a parsed TOML document into a :class:`Config`."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"expected a table, got {_brief(doc)}", path=path)
    known = {"site", "tracker", "bus", "daemon", "sensors", "daemon_id", "classify", "zones",
             "assets", "allow", "deny", "sapient", "cot"}
    for k in doc:
        if k not in known:
            raise ConfigError(f"unknown section (known: {', '.join(sorted(known))})", path=path, key=k)
    site = _build(SiteConfig, doc.get("site", {}), "site", path)
    tracker = _build(TrackerConfig, doc.get("tracker", {}), "tracker", path)
    bus = _build(BusConfig, doc.get("bus", {}), "bus", path)
    daemon = _build(DaemonConfig, doc.get("daemon", {}), "daemon", path)
    sensors_doc = doc.get("sensors", {})
    if not isinstance(sensors_doc, dict):
        raise ConfigError("expected a table of sensors", path=path, key="sensors")
    sensors: dict[str, SensorConfig] = {}
    for sid, table in sensors_doc.items():
        extra: dict[str, Any] = {}
        if isinstance(table, dict) and "adsb" in table:
            extra["adsb"] = _adsb(table["adsb"], f"sensors.{sid}.adsb", path)
            table = {k: v for k, v in table.items() if k != "adsb"}
        if isinstance(table, dict) and "rf" in table:
            extra["rf"] = _rf(table["rf"], f"sensors.{sid}.rf", path)
            table = {k: v for k, v in table.items() if k != "rf"}
        if isinstance(table, dict) and "remoteid" in table:
            extra["remoteid"] = _remoteid(table["remoteid"], f"sensors.{sid}.remoteid", path)
            table = {k: v for k, v in table.items() if k != "remoteid"}
        if isinstance(table, dict) and "sapient" in table:
            extra["sapient"] = _sapient_node(table["sapient"], f"sensors.{sid}.sapient", path)
            table = {k: v for k, v in table.items() if k != "sapient"}
        if isinstance(table, dict) and "camera" in table:
            extra["camera"] = _camera(table["camera"], f"sensors.{sid}.camera", path)
            table = {k: v for k, v in table.items() if k != "camera"}
        sensor = _build(SensorConfig, table, f"sensors.{sid}", path, id=sid, **extra)
        if sensor.origin is not None:
            lat, lon, h = sensor.origin
            if not (-90 <= lat <= 90 and -180 <= lon <= 180 and -12_000 <= h <= 100_000):
                raise ConfigError("origin must be [lat, lon, h] in degrees and metres",
                                  path=path, key=f"sensors.{sid}.origin")
        if sensor.max_range_m is not None and sensor.max_range_m <= 0:
            raise ConfigError("must be > 0", path=path, key=f"sensors.{sid}.max_range_m")
        sensors[sid] = sensor
    daemon_id = _coerce(doc.get("daemon_id", "cuas"), str, "daemon_id", path)
    if len(daemon_id) > MAX_DAEMON_ID:
        raise ConfigError(f"longer than {MAX_DAEMON_ID} characters", path=path, key="daemon_id")
    classify = _build(ClassifyConfig, doc.get("classify", {}), "classify", path)
    zones = tuple(_zone(zid, table, path) for zid, table in _tables(doc, "zones", path))
    assets = tuple(_asset(aid, table, path) for aid, table in _tables(doc, "assets", path))
    return Config(site=site, tracker=tracker, bus=bus, daemon=daemon, sensors=sensors,
                  daemon_id=daemon_id, classify=classify, zones=zones, assets=assets,
                  allow=_identity_list(doc, "allow", path),
                  deny=_identity_list(doc, "deny", path),
                  sapient=_build(SapientConfig, doc.get("sapient", {}), "sapient", path),
                  cot=_build(CotConfig, doc.get("cot", {}), "cot", path),
                  path=path)


def _tables(doc: Mapping[str, Any], section: str, path: str | None) -> list[tuple[str, Any]]:
    tables = doc.get(section, {})
    if not isinstance(tables, dict):
        raise ConfigError(f"expected a table of {section}", path=path, key=section)
    return list(tables.items())


def _points(value: Any, width: int, key: str, path: str | None) -> tuple[tuple[float, ...], ...]:
    if not isinstance(value, list):
        raise ConfigError(f"expected a list of [{width} numbers], got {_brief(value)}",
                          path=path, key=key)
    tp: Any = tuple.__class_getitem__((float,) * width)
    return tuple(_coerce(v, tp, f"{key}[{i}]", path) for i, v in enumerate(value))


def _zone(zid: str, table: Any, path: str | None) -> ZoneConfig:
    """A zone table, with its vertices checked: 3 or more, one frame, a valid simple polygon."""
    key = f"zones.{zid}"
    if not isinstance(table, dict):
        raise ConfigError(f"expected a table, got {_brief(table)}", path=path, key=key)
    plain = {k: v for k, v in table.items() if k not in ("enu", "lla")}
    zone = _build(ZoneConfig, plain, key, path, id=zid)
    have = [f for f in ("enu", "lla") if f in table]
    if len(have) != 1:
        raise ConfigError("give the vertices as exactly one of enu or lla", path=path,
                          key=f"{key}.enu")
    frame = have[0]
    pts = _points(table[frame], 2, f"{key}.{frame}", path)
    if len(pts) < 3:
        raise ConfigError("a polygon needs at least 3 vertices", path=path, key=f"{key}.{frame}")
    if frame == "lla" and not all(-90 <= a <= 90 and -180 <= b <= 180 for a, b in pts):
        raise ConfigError("vertices must be [lat, lon] in degrees", path=path, key=f"{key}.lla")
    if frame == "enu" and not all(abs(a) <= 1e6 and abs(b) <= 1e6 for a, b in pts):
        raise ConfigError("vertices must lie within 1000 km of the site", path=path,
                          key=f"{key}.enu")
    import shapely  # only sites with zones pay for it

    if not shapely.Polygon(pts).is_valid:
        raise ConfigError("the polygon crosses itself or has no area", path=path,
                          key=f"{key}.{frame}")
    if zone.kind not in ZONE_KINDS:
        raise ConfigError(f"unknown kind (known: {', '.join(ZONE_KINDS)})", path=path,
                          key=f"{key}.kind")
    if zone.level not in THREAT_LEVELS:
        raise ConfigError(f"unknown level (known: {', '.join(THREAT_LEVELS)})", path=path,
                          key=f"{key}.level")
    if not zone.floor_m < zone.ceiling_m:
        raise ConfigError("floor_m must be below ceiling_m", path=path, key=f"{key}.floor_m")
    pairs = tuple((float(a), float(b)) for a, b in pts)
    if frame == "enu":
        return dataclasses.replace(zone, enu=pairs)
    return dataclasses.replace(zone, lla=pairs)


def _asset(aid: str, table: Any, path: str | None) -> AssetConfig:
    key = f"assets.{aid}"
    asset = _build(AssetConfig, table, key, path, id=aid)
    if (asset.enu is None) == (asset.lla is None):
        raise ConfigError("give the position as exactly one of enu or lla", path=path,
                          key=f"{key}.enu")
    if asset.lla is not None and not (-90 <= asset.lla[0] <= 90 and -180 <= asset.lla[1] <= 180):
        raise ConfigError("must be [lat, lon, h] in degrees and metres", path=path,
                          key=f"{key}.lla")
    if asset.enu is not None and not all(abs(c) <= 1e6 for c in asset.enu):
        raise ConfigError("must lie within 1000 km of the site", path=path, key=f"{key}.enu")
    if not 0.0 <= asset.radius_m <= 100_000.0:
        raise ConfigError("must lie in [0, 100000]", path=path, key=f"{key}.radius_m")
    return asset


def _identity_list(doc: Mapping[str, Any], section: str, path: str | None) -> IdentityList:
    """``[allow]``/``[deny]``: tables ``rid`` and ``icao`` mapping an identity to a label."""
    table = doc.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"expected a table, got {_brief(table)}", path=path, key=section)
    out: dict[str, dict[str, str]] = {"rid": {}, "icao": {}}
    for kind, entries in table.items():
        if kind not in out:
            raise ConfigError("unknown key (known: icao, rid)", path=path, key=f"{section}.{kind}")
        if not isinstance(entries, dict):
            raise ConfigError("expected a table of identity = \"label\"", path=path,
                              key=f"{section}.{kind}")
        for ident, label in entries.items():
            k = f"{section}.{kind}.{ident}"
            label = _coerce(label, str, k, path)
            if kind == "icao":
                if len(ident) != 6 or any(c not in "0123456789abcdefABCDEF" for c in ident):
                    raise ConfigError("an ICAO address is 6 hex characters", path=path, key=k)
                ident = ident.lower()
            elif not ident or len(ident) > 256:
                raise ConfigError("a Remote ID serial is 1 to 256 characters", path=path, key=k)
            out[kind][ident] = label
    return IdentityList(rid=out["rid"], icao=out["icao"])


def load_config(path: str | Path) -> Config:
    """Read and validate a site configuration file (TOML)."""
    p = str(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise ConfigError("file not found", path=p) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=p) from None
    except ValueError as exc:  # open() rejects a path with a NUL byte with ValueError
        raise ConfigError(f"cannot open: {exc}", path=p) from None
    # Reading and parsing are separate so that each failure below is reported for what it is.
    # Before, invalid UTF-8 (UnicodeDecodeError: tomllib decodes the bytes itself), deeply
    # nested arrays or inline tables (RecursionError: tomllib parses them recursively) and an
    # integer literal of more than 4300 digits (a plain ValueError from int()) escaped bare.
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not valid UTF-8 (byte {exc.start})", path=p) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=p) from None
    except RecursionError:
        raise ConfigError("not valid TOML: nested too deeply", path=p) from None
    except ValueError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=p) from None
    return parse_config(doc, p)
