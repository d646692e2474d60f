"""Tests of the site configuration (cuas.config): the Wembley reference, and errors that name
the file and the dotted key for every kind of bad input, never a bare exception."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas.config import (
    WEMBLEY,
    BusConfig,
    Config,
    SensorConfig,
    SiteConfig,
    TrackerConfig,
    load_config,
    parse_config,
    reference_config,
)
from cuas.errors import ConfigError
from cuas.sensors.radar.settings import RadarSettings

pytestmark = pytest.mark.filterwarnings("error")

ROOT = Path(__file__).resolve().parents[1]
WEMBLEY_TOML = ROOT / "configs" / "wembley.toml"

FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _write(tmp: Path, text: str | bytes, name: str = "site.toml") -> Path:
    p = tmp / name
    if isinstance(text, str):
        p.write_text(text, encoding="utf-8")
    else:
        p.write_bytes(text)
    return p


# --------------------------------------------------------------------------- the reference


def test_wembley_config_loads_and_is_wembley() -> None:
    cfg = load_config(WEMBLEY_TOML)
    assert (cfg.site.lat, cfg.site.lon) == (51.5560, -0.2796)
    assert cfg.site == SiteConfig(name="wembley", lat=51.5560, lon=-0.2796, h=90.0)
    assert cfg.path == str(WEMBLEY_TOML)
    assert cfg.daemon_id == "cuas-wembley"
    ref = reference_config()
    assert (cfg.site, cfg.tracker, cfg.bus) == (ref.site, ref.tracker, ref.bus)
    radar = cfg.sensors["radar-north"]
    assert radar == SensorConfig(id="radar-north", kind="radar", origin=(51.5581, -0.2790, 135.0),
                                 max_range_m=6000.0,
                                 settings={"radar": RadarSettings(snr_1km_db=45.0)})
    assert radar.is_scanning
    assert cfg.sensor("radar-north") is radar
    assert load_config(str(WEMBLEY_TOML)) == cfg  # a str path works as well as a Path


def test_reference_config_equals_the_defaults() -> None:
    ref = reference_config()
    assert ref == Config() == parse_config({})
    assert ref.site == SiteConfig() and (ref.site.lat, ref.site.lon, ref.site.h) == WEMBLEY
    assert ref.site.name == "wembley"
    assert (ref.tracker, ref.bus) == (TrackerConfig(), BusConfig())
    assert ref.sensors == {} and ref.daemon_id == "cuas" and ref.path is None
    # Every field of the reference is its declared default (nothing is patched in afterwards).
    for section in (ref.site, ref.tracker, ref.bus):
        for f in dataclasses.fields(section):
            assert getattr(section, f.name) == f.default, f.name


def test_unconfigured_sensor_gets_defaults_by_kind() -> None:
    ref = reference_config()
    assert ref.sensor("adsb-1", "adsb") == SensorConfig(id="adsb-1", kind="adsb")
    assert not ref.sensor("adsb-1", "adsb").is_scanning
    assert ref.sensor("sim-1").is_scanning


def test_sensors_with_origin_parse(tmp_path: Path) -> None:
    p = _write(tmp_path, """
[sensors.cam-east]
kind = "camera"
origin = [51.556, -0.277, 70]

[sensors.adsb-1]
kind = "adsb"

[sensors.rf-1]
kind = "rf"
scanning = true
max_range_m = 2500
""")
    cfg = load_config(p)
    cam, adsb, rf = cfg.sensors["cam-east"], cfg.sensors["adsb-1"], cfg.sensors["rf-1"]
    assert cam == SensorConfig(id="cam-east", kind="camera", origin=(51.556, -0.277, 70.0))
    assert cam.origin is not None and all(type(x) is float for x in cam.origin)
    assert not cam.is_scanning  # a frame sees only its field of view: no misses counted
    assert adsb.origin is None and not adsb.is_scanning
    assert rf.is_scanning and rf.max_range_m == 2500.0 and type(rf.max_range_m) is float


def test_integers_are_accepted_for_float_settings(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, "[tracker]\nlateness_s = 1\n[site]\nh = 90\n"))
    assert type(cfg.tracker.lateness_s) is float and cfg.tracker.lateness_s == 1.0
    assert type(cfg.site.h) is float


# --------------------------------------------------------------------------- errors name path and key


BAD_VALUES = [
    # unknown keys and sections: a misspelt key must not be silently ignored
    ("[site]\nlatt = 51.0\n", "site.latt"),
    ("[trakcer]\nconfirm_m = 3\n", "trakcer"),
    ("deamon_id = 'x'\n", "deamon_id"),
    ("[sensors.r]\nrange = 5\n", "sensors.r.range"),
    ("[sensors.r]\nid = 'x'\n", "sensors.r.id"),
    # wrong types
    ("[tracker]\nconfirm_m = \"3\"\n", "tracker.confirm_m"),
    ("[tracker]\nconfirm_m = 3.0\n", "tracker.confirm_m"),
    ("[tracker]\nconfirm_m = true\n", "tracker.confirm_m"),
    ("[site]\nlat = \"51.5\"\n", "site.lat"),
    ("[site]\nlat = true\n", "site.lat"),
    ("[site]\nname = 5\n", "site.name"),
    ("[tracker]\nlateness_s = 1979-05-27\n", "tracker.lateness_s"),
    ("[tracker]\nlateness_s = [0.5]\n", "tracker.lateness_s"),
    ("[bus]\ndetections = 5\n", "bus.detections"),
    ("[sensors.r]\nscanning = 1\n", "sensors.r.scanning"),
    ("[sensors.r]\norigin = [51.5, -0.2]\n", "sensors.r.origin"),
    ("[sensors.r]\norigin = [51.5, \"x\", 3]\n", "sensors.r.origin[1]"),
    ("[sensors.r]\norigin = {lat = 51.5}\n", "sensors.r.origin"),
    ("site = 5\n", "site"),
    ("sensors = 5\n", "sensors"),
    ("[sensors]\nr = 5\n", "sensors.r"),
    ("daemon_id = \"\"\n", "daemon_id"),
    ("daemon_id = 7\n", "daemon_id"),
    # out of range
    ("[site]\nlat = 91.0\n", "site.lat"),
    ("[site]\nlon = -180.5\n", "site.lon"),
    ("[site]\nh = 20000.0\n", "site.h"),
    ("[site]\nlat = nan\n", "site.lat"),
    ("[site]\nlat = " + "1" + "0" * 400 + "\n", "site.lat"),  # used to raise OverflowError
    ("[tracker]\ngate_probability = 1.0\n", "tracker.gate_probability"),
    ("[tracker]\ngate_probability = 0.1\n", "tracker.gate_probability"),
    ("[tracker]\nconfirm_m = 6\nconfirm_n = 5\n", "tracker.confirm_m"),
    ("[tracker]\nconfirm_n = 33\n", "tracker.confirm_m"),
    ("[tracker]\ncoast_misses = 0\n", "tracker.coast_misses"),
    ("[tracker]\ndelete_misses_confirmed = -1\n", "tracker.delete_misses_confirmed"),
    ("[tracker]\naccel_noise_h = 0.0\n", "tracker.accel_noise_h"),
    ("[tracker]\nlateness_s = -0.5\n", "tracker.lateness_s"),
    ("[tracker]\nmax_future_s = inf\n", "tracker.max_future_s"),
    ("[tracker]\ncoast_after_s = -inf\n", "tracker.coast_after_s"),
    ("[sensors.r]\norigin = [95.0, 0.0, 0.0]\n", "sensors.r.origin"),
    ("[sensors.r]\norigin = [51.0, 0.0, 1e6]\n", "sensors.r.origin"),
    ("[sensors.r]\nmax_range_m = 0.0\n", "sensors.r.max_range_m"),
    ("daemon_id = \"" + "x" * 129 + "\"\n", "daemon_id"),  # the wire schema caps src at 128
]


@pytest.mark.parametrize(("text", "key"), BAD_VALUES, ids=[k for _, k in BAD_VALUES])
def test_bad_value_names_file_and_dotted_key(tmp_path: Path, text: str, key: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    exc = info.value
    assert exc.path == str(p) and exc.key == key
    assert str(exc).startswith(f"{p}: {key}: "), str(exc)
    assert len(str(exc)) < 400  # short, whatever the value was
    # The same document given as a mapping (what tests and tools do) fails the same way.
    with pytest.raises(ConfigError) as info2:
        parse_config(tomllib.loads(text), "doc.toml")
    assert (info2.value.path, info2.value.key) == ("doc.toml", key)


BAD_FILES: list[tuple[str, str | bytes]] = [
    ("unclosed table header", "[site\nlat = 1\n"),
    ("value missing", "[site]\nlat =\n"),
    ("duplicate key", "[site]\nlat = 51.5\nlat = 51.6\n"),
    ("invalid date", "[tracker]\nlateness_s = 1979-02-30\n"),
    ("invalid UTF-8", b"[site]\nname = \"\xff\xfe\"\n"),  # used to raise UnicodeDecodeError
    ("5000-digit integer", "[site]\nlat = " + "9" * 5000 + "\n"),  # used to raise ValueError
    ("deeply nested arrays", "a = " + "[" * 100_000 + "]" * 100_000 + "\n"),  # RecursionError
    ("deeply nested tables", "a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n"),
    ("binary junk", bytes(range(256))),
]


@pytest.mark.parametrize(("what", "content"), BAD_FILES, ids=[w for w, _ in BAD_FILES])
def test_invalid_toml_names_the_file(tmp_path: Path, what: str, content: str | bytes) -> None:
    p = _write(tmp_path, content)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert info.value.path == str(p) and str(info.value).startswith(f"{p}: ")
    assert "TOML" in str(info.value) or "UTF-8" in str(info.value)
    assert len(str(info.value)) < 400


def test_toml_syntax_error_says_where(tmp_path: Path) -> None:
    p = _write(tmp_path, "[site]\nname = \"wembley\"\nlat = = 51.5\n")
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 3") as info:
        load_config(p)
    assert str(p) in str(info.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "nowhere" / "site.toml"
    with pytest.raises(ConfigError, match="file not found") as info:
        load_config(p)
    assert info.value.path == str(p) and str(info.value).startswith(str(p))


def test_unreadable_paths_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read") as info:
        load_config(tmp_path)  # a directory
    assert info.value.path == str(tmp_path)
    with pytest.raises(ConfigError, match="cannot open"):
        load_config(str(tmp_path / "a\0b.toml"))  # used to raise ValueError


def test_parse_config_rejects_a_document_that_is_not_a_table() -> None:
    docs: list[Any] = [[], "site", 5, None]
    for doc in docs:
        with pytest.raises(ConfigError, match="expected a table") as info:
            parse_config(doc, "doc.toml")
        assert info.value.path == "doc.toml"


def test_errors_without_a_file_name_only_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"site": {"lat": 100.0}})
    assert info.value.path is None and str(info.value) == "site.lat: latitude 100.0 outside [-90, 90]"


def test_huge_values_do_not_break_error_messages() -> None:
    for doc, key in (({"site": {"name": 10**5000}}, "site.name"),
                     ({"tracker": {"lateness_s": 10**400}}, "tracker.lateness_s"),
                     ({"bus": {"tracks": ["x"] * 1_000_000}}, "bus.tracks"),
                     ({"site": {"lat": _deep(100_000)}}, "site.lat"),
                     ({"site": _deep(100_000)}, "site")):
        with pytest.raises(ConfigError) as info:
            parse_config(doc, "doc.toml")
        assert info.value.key == key and len(str(info.value)) < 400


def _deep(depth: int) -> Any:
    x: Any = 0
    for _ in range(depth):
        x = [x]
    return x


# --------------------------------------------------------------------------- fuzzing


HUGE_INTS = (10**400, -(10**400), 10**5000)
toml_scalars = (st.text(max_size=12) | st.integers() | st.integers(2**63, 2**64)
                # (mapped from an index: hypothesis itself cannot repr a 5000-digit int)
                | st.integers(0, 2).map(lambda i: HUGE_INTS[i])
                | st.floats() | st.booleans() | st.datetimes() | st.dates() | st.times())
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=10,
)


def _plausible(tp: Any) -> st.SearchStrategy[Any]:
    """Values near the valid range for a field of type ``tp`` (so that some documents pass
    type checks and reach the range checks), mixed with anything at all."""
    text = str(tp)
    near: st.SearchStrategy[Any]
    if "tuple" in text:
        near = st.lists(st.floats(-200, 200) | st.integers(-200, 200), min_size=2, max_size=4)
    elif "bool" in text:
        near = st.booleans()
    elif "float" in text:
        near = st.floats(-10, 1e5) | st.integers(-2, 100) | st.sampled_from(
            [0.0, 0.5, 0.9999, 1.0, math.nan, math.inf, -0.0])
    elif "int" in text:
        near = st.integers(-2, 40)
    else:
        near = st.text(max_size=8)
    return near | toml_values


def _section(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    return st.fixed_dictionaries(
        {}, optional={**{k: _plausible(tp) for k, tp in hints.items()}, "bogus": toml_values})


config_docs = st.fixed_dictionaries({}, optional={
    "site": _section(SiteConfig) | toml_values,
    "tracker": _section(TrackerConfig) | toml_values,
    "bus": _section(BusConfig) | toml_values,
    "sensors": st.dictionaries(st.text(max_size=8), _section(SensorConfig) | toml_values,
                               max_size=3) | toml_values,
    "daemon_id": st.text(max_size=140) | toml_values,
    "extra": toml_values,
})


def _check_config(cfg: Config) -> None:
    """Invariants of any configuration that was accepted."""
    for section in (cfg.site, cfg.tracker):
        for f in dataclasses.fields(section):
            v = getattr(section, f.name)
            assert type(v) in (int, float, str), f.name
            assert not isinstance(v, float) or math.isfinite(v), f.name
    assert 1 <= cfg.tracker.confirm_m <= cfg.tracker.confirm_n <= 32
    assert 0.5 <= cfg.tracker.gate_probability < 1.0
    for sid, s in cfg.sensors.items():
        assert s.id == sid and isinstance(s.kind, str) and s.kind
        assert s.origin is None or all(type(x) is float and math.isfinite(x) for x in s.origin)
        assert s.max_range_m is None or s.max_range_m > 0
    assert 0 < len(cfg.daemon_id) <= 128


@FUZZ
@given(config_docs | st.dictionaries(st.text(max_size=8), toml_values, max_size=4))
def test_random_documents_raise_only_config_error(doc: dict[str, Any]) -> None:
    try:
        cfg = parse_config(doc, "fuzz.toml")
    except ConfigError as exc:
        # Every error of a document names a key (which TOML allows to be the empty string).
        assert exc.path == "fuzz.toml" and exc.key is not None, str(exc)
        assert str(exc).startswith(f"fuzz.toml: {exc.key}: " if exc.key else "fuzz.toml: ")
    else:
        _check_config(cfg)


TOML_LINES = ["[site]", "[tracker]", "[bus]", "[sensors.r]", "[sensors.\"cam 1\"]", "[[site]]",
              "lat = 51.5", "lat = 95", "lon = -0.28", "h = 90", "name = \"x\"", "confirm_m = 3",
              "confirm_n = 2", "gate_probability = 0.99", "kind = \"radar\"", "scanning = true",
              "origin = [51.5, -0.28, 100]", "origin = [1, 2]", "max_range_m = 6000",
              "daemon_id = \"d\"", "lateness_s = nan", "a = {b = 1}", "x = 1979-05-27T07:32:00Z",
              "= 1", "lat = ", "\"", "[", "]"]


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config-fuzz")


@FUZZ
@given(st.lists(st.sampled_from(TOML_LINES) | st.text(max_size=16), max_size=10).map("\n".join)
       | st.binary(max_size=64))
def test_random_files_raise_only_config_error(fuzz_dir: Path, content: str | bytes) -> None:
    p = _write(fuzz_dir, content, "fuzz.toml")
    try:
        cfg = load_config(p)
    except ConfigError as exc:
        assert exc.path == str(p) and str(exc).startswith(f"{p}: ")
    else:
        _check_config(cfg)


def _check(capsys: pytest.CaptureFixture[str], cfg: Path, *command: str) -> tuple[int, str]:
    from cuas.cli.main import main as cli_main

    code = cli_main([*(command or ("check",)), "--config", str(cfg)])
    return code, capsys.readouterr().err


def test_cuas_check_opens_key_files_directories_and_tls_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cuas.cli.keys import generate

    generate("daemon", tmp_path)
    generate("sensor", tmp_path)
    (tmp_path / "allowed").mkdir()
    cfg = tmp_path / "site.toml"
    daemon = ('[bus]\nsecurity = "curve"\nserver_secret_key = "daemon.key_secret"\n'
              'allowed_clients = "allowed"\n')
    cfg.write_text(daemon)
    assert _check(capsys, cfg) == (0, "")
    cases = {
        # the key file is missing
        daemon.replace("daemon.key_secret", "gone.key_secret"): "bus.server_secret_key",
        # a public key given as the secret
        daemon.replace("daemon.key_secret", "daemon.key"): "bus.server_secret_key",
        # the allow-list directory is missing
        daemon.replace('"allowed"', '"nowhere"'): "bus.allowed_clients",
        # a daemon with no allow list at all
        daemon.replace('allowed_clients = "allowed"\n', ""): "bus.allowed_clients",
        # a client's own key given as its public file
        '[bus]\nsecurity = "curve"\nserver_public_key = "daemon.key"\n'
        'client_secret_key = "sensor.key"\n': "bus.client_secret_key",
        '[cot]\nurl = "tls://127.0.0.1:8089"\nca_file = "/nonexistent/ca.pem"\n': "cot.ca_file",
        '[sapient]\ntls_cert = "n.pem"\ntls_key = "n.key"\n': "sapient.tls_cert",
    }
    for text, key in cases.items():
        cfg.write_text(text)
        code, err = _check(capsys, cfg)
        assert code != 0 and key in err, (text, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err


def test_export_cot_with_a_missing_ca_file_is_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    cfg = tmp_path / "site.toml"
    cfg.write_text('[cot]\nurl = "tls://127.0.0.1:8089"\nca_file = "/nonexistent/ca.pem"\n')
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", "import sys; from cuas.cli.main import main; "
                           "sys.exit(main(sys.argv[1:]))", "export", "cot", "--config", str(cfg),
                           "--duration", "1"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(root)}, cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "cot.ca_file" in done.stderr, done.stderr
