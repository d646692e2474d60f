"""A sensor kind is a plug-in: a toy kind registered here, in the test and nowhere in the
package, is accepted by the site configuration (with its own settings table), runs as
``cuas sensor toy``, is simulated in a scenario file and its detections are fused into tracks
by the offline replay, with no edit anywhere else (docs/adding-a-sensor-kind.md)."""

from __future__ import annotations

import argparse
import io
import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cuas import geo, wire
from cuas.cli.main import main
from cuas.config import load_config, parse_config
from cuas.config.coerce import build
from cuas.errors import ConfigError
from cuas.fusion.offline import replay_offline
from cuas.sensors import registry
from cuas.sensors.cli_common import add_common_arguments, load_sensor
from cuas.sim.runner import simulate_scenario, write_scenario
from cuas.sim.scenario import Scenario, SensorSpec, parse_scenario
from cuas.sim.sensing import Clock, MessageBuilder, SimMessage, diag_r
from cuas.sim.truth import ScenarioTruth

HERE = __name__  # the "module:attribute" references below name this test module

# --------------------------------------------------------------------------- the toy kind


@dataclass(frozen=True, slots=True)
class ToySettings:
    """``[sensors.<id>.toy]``: where the toy sensor reads from and its gain."""

    source: str | None = None
    gain: float = 1.0


def parse_toy_settings(table: Any, key: str, path: str | None) -> ToySettings:
    """The strict coercer for types and unknown keys, then the kind's own range check."""
    cfg = build(ToySettings, table, key, path)
    if not 0.0 < cfg.gain <= 10.0:
        raise ConfigError("must lie in (0, 10]", path=path, key=f"{key}.gain")
    return cfg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``cuas sensor toy``: the arguments every kind shares, and one of its own."""
    add_common_arguments(parser, "toy", "where the toy reads from (overrides the config)")
    parser.add_argument("--gain", type=float, help="overrides the config's gain")


def run(args: argparse.Namespace) -> int:
    """Print what the toy would run with (a real kind starts its source here)."""
    config, sid, sc = load_sensor(args, "toy")
    settings = sc.settings_for("toy", ToySettings) if sc is not None else ToySettings()
    gain = args.gain if args.gain is not None else settings.gain
    print(f"toy {sid} source={args.source or settings.source} gain={gain:g} "
          f"-> {args.publish or config.bus.detections}")
    return 0


@dataclass(frozen=True, kw_only=True, slots=True)
class ToySpec(SensorSpec):
    """A scanning sensor that reports every live mover in range as a site ENU position with
    ``sigma_m`` of noise per axis (metres)."""

    sigma_m: float = 3.0


def simulate_toy(spec: ToySpec, sc: Scenario, truth: ScenarioTruth, site: geo.SiteFrame,
                 rng: np.random.Generator) -> list[SimMessage]:
    """One batch per look of every mover alive and within ``max_range_m`` of the sensor."""
    frame = site.sensor(spec.origin)
    builder = MessageBuilder(spec, sc.t0)
    clock = Clock(spec, rng, sc.duration_s)
    sig = (spec.sigma_m,) * 3
    looks = clock.looks()
    pos_all, _, alive_all = truth.at(looks)
    for k, t_rel in enumerate(looks.tolist()):
        rng_m = np.linalg.norm(frame.site_to_local(pos_all[k]), axis=1)
        seen = np.flatnonzero(alive_all[k] & (rng_m <= spec.max_range_m))
        z = pos_all[k, seen] + rng.standard_normal((len(seen), 3)) * spec.sigma_m
        dets = [wire.Detection(frame="enu", z=tuple(float(c) for c in row), R=diag_r(sig),
                               sigma=sig) for row in z]
        builder.emit(t_rel, clock.delay(), dets, [truth.ids[i] for i in seen.tolist()])
    return builder.messages()


TOY = registry.SensorKind(
    "toy", "a toy sensor for the plug-in test", scanning=True,
    settings=f"{HERE}:parse_toy_settings", cli=HERE,
    sim_spec=f"{HERE}:ToySpec", sim_model=f"{HERE}:simulate_toy")


@pytest.fixture
def toy() -> Iterator[registry.SensorKind]:
    registry.register(TOY)
    yield TOY
    registry.unregister("toy")


SITE_TOML = """
[sensors.toy-1]
kind = "toy"
origin = [51.5560, -0.2796, 100.0]

[sensors.toy-1.toy]
source = "toy://bench"
gain = 2.5
"""

SCENARIO_TOML = """
[scenario]
name = "toy"
duration_s = 40.0
config = "site.toml"

[sensors.toy-1]
kind = "toy"
origin = [51.5560, -0.2796, 100.0]
rate_hz = 1.0
sigma_m = 2.0
max_range_m = 3000.0

[[movers]]
id = "drone"
type = "multirotor"
waypoints = [[-800.0, 600.0, 80.0], [-100.0, 50.0, 60.0]]
speed = 15.0
"""

# --------------------------------------------------------------------------- it plugs in


def test_unregistered_kind_is_unknown_everywhere() -> None:
    """Without the registration, none of the toy's tables or commands exist."""
    assert registry.get("toy").settings is None and not registry.get("toy").scanning
    with pytest.raises(ConfigError, match=r"sensors\.toy-1\.toy"):
        parse_config(tomllib.loads(SITE_TOML))
    with pytest.raises(SystemExit):
        main(["sensor", "toy"])
    with pytest.raises(ConfigError, match=r"sensors\.toy-1\.kind"):
        parse_scenario(tomllib.loads(SCENARIO_TOML.replace('config = "site.toml"\n', "")))


def test_config_reads_the_kinds_settings_table(toy: registry.SensorKind) -> None:
    cfg = parse_config(tomllib.loads(SITE_TOML))
    sensor = cfg.sensors["toy-1"]
    assert sensor.kind == "toy" and sensor.is_scanning
    assert sensor.settings_for("toy", ToySettings) == ToySettings(source="toy://bench", gain=2.5)
    with pytest.raises(ConfigError, match=r"sensors\.toy-1\.toy\.gain"):
        parse_config(tomllib.loads(SITE_TOML.replace("2.5", "0.0")))
    with pytest.raises(ConfigError, match=r"sensors\.toy-1\.toy\.bogus"):
        parse_config(tomllib.loads(SITE_TOML + "bogus = 1\n"))


def test_cuas_sensor_runs_the_kinds_cli(toy: registry.SensorKind, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.toml"
    site.write_text(SITE_TOML)
    assert main(["sensor", "toy", "--config", str(site)]) == 0
    assert capsys.readouterr().out.strip() == (
        "toy toy-1 source=toy://bench gain=2.5 -> tcp://127.0.0.1:5550")
    assert main(["sensor", "toy", "--config", str(site), "--gain", "4"]) == 0
    assert "gain=4 " in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["sensor", "--help"])
    assert "toy        a toy sensor for the plug-in test" in capsys.readouterr().out


def test_scenario_with_the_kind_simulates_and_its_detections_are_fused(
        toy: registry.SensorKind, tmp_path: Path) -> None:
    (tmp_path / "site.toml").write_text(SITE_TOML)
    scenario_path = tmp_path / "toy.toml"
    scenario_path.write_text(SCENARIO_TOML)
    sc = parse_scenario(tomllib.loads(SCENARIO_TOML), str(scenario_path), tmp_path)
    (spec,) = sc.sensors
    assert isinstance(spec, ToySpec) and spec.sigma_m == 2.0
    run_ = simulate_scenario(sc, seed=1)
    assert {m.batch.kind for m in run_.messages} == {"toy"}
    assert run_.n_detections >= 35 and run_.n_false == 0

    rec, truth_path = tmp_path / "toy.mcap", tmp_path / "toy.truth.jsonl"
    write_scenario(run_, rec, truth_path)
    out = io.StringIO()
    summary = replay_offline(rec, out, load_config(tmp_path / "site.toml"))
    assert summary.snapshots == len(run_.messages)
    last = json.loads(out.getvalue().splitlines()[-1])
    confirmed = [t for t in last["tracks"] if t["status"] == "confirmed"]
    assert len(confirmed) == 1 and confirmed[0]["sources"] == ["toy-1"]
    # The track is where the drone truly is at the snapshot's time (sigma 2 m per axis).
    truth_pos, _, _ = run_.truth.at(np.asarray([last["t"] - sc.t0]))
    assert np.linalg.norm(np.asarray(confirmed[0]["enu"]) - truth_pos[0, 0]) < 10.0


@pytest.mark.parametrize("kind", registry.kinds(), ids=lambda k: k.name)
def test_every_built_in_kinds_references_resolve(kind: registry.SensorKind) -> None:
    """The registry names code by string (so importing it imports no adapter): each name must
    import and be what it says."""
    if kind.settings is not None:
        assert callable(registry.resolve(kind.settings))
    if kind.cli is not None:
        module = kind.cli_module()
        assert callable(module.add_arguments) and callable(module.run)
    if kind.sim_spec is not None:
        assert kind.simulated and isinstance(registry.resolve(kind.sim_spec), type)
        assert callable(registry.resolve(kind.sim_model or ""))
