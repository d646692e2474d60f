"""The camera detector on real clips (Svanström et al. 2021, CC0, read from ../shared/data):
recall and false blobs per frame against the per-frame boxes, compared with the plain MOG2
baseline that ``shared/data/video/SOURCES.md`` measured on the same clips; and the frame gate,
sky mask and bad frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cuas.errors import FrameError
from cuas.sensors.camera.detect import DetectorConfig, MotionDetector, sky_mask, to_grey
from cuas.sensors.camera.evaluate import score_clip

CLIPS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "video" / "svanstrom2021"
needs_clips = pytest.mark.skipif(not (CLIPS / "V_DRONE_001.mp4").is_file(),
                                 reason=f"Svanström clips not found in {CLIPS} (shared data "
                                 "absent in a fresh clone)")

#: The horizon of the clips filmed over a field: the tree line's top at the left and right
#: edges (px). Below it swaying crops and trees are no sky (a site configures this per camera).
FIELD_HORIZON = (340.0, 400.0)

#: clip, distance, horizon, frames read (None: the whole clip; the full table of every clip is
#: benchmarks/bench_camera.py's), recall floor (issue: 0.95 close/medium, 0.8 distant), and
#: what the SOURCES.md plain MOG2 pipeline achieved (recall, false blobs per frame).
STATIC = [
    ("V_DRONE_001", "close", None, None, 0.95, (1.00, 0.01)),
    ("V_DRONE_002", "medium", None, None, 0.95, (1.00, 0.00)),
    ("V_DRONE_008", "distant", FIELD_HORIZON, 150, 0.80, (0.90, 0.32)),
    ("V_DRONE_010", "distant", None, None, 0.80, (0.57, 0.01)),
    ("IR_DRONE_001", "close (thermal)", None, None, 0.95, (1.00, 0.00)),
]
#: Frames read of the moving-camera clips (the first five seconds).
MOVING_FRAMES = 150
#: Clips from a panning camera or with exposure swings (baseline false blobs per frame).
MOVING = [("V_AIRPLANE_001", 14.11), ("V_HELICOPTER_003", 14.94), ("V_BIRD_001", 3.42),
          ("V_BIRD_002", 17.91)]


@needs_clips
@pytest.mark.parametrize(("clip", "distance", "horizon", "frames", "floor", "baseline"), STATIC,
                         ids=[c[0] for c in STATIC])
def test_static_camera_drone_clips(clip: str, distance: str, horizon: tuple[float, float] | None,
                                   frames: int | None, floor: float,
                                   baseline: tuple[float, float]) -> None:
    score = score_clip(CLIPS / f"{clip}.mp4", CLIPS / f"{clip}_labels.csv",
                       DetectorConfig(horizon=horizon), max_frames=frames)
    print(f"{clip} ({distance}): recall {score.recall:.3f} (MOG2 baseline {baseline[0]:.2f}), "
          f"false blobs/frame {score.false_per_frame:.3f} (baseline {baseline[1]:.2f})")
    assert score.labelled >= (frames or 300) - 31
    assert score.recall >= max(floor, baseline[0] - 0.03)
    assert score.false_per_frame < 0.1


@needs_clips
def test_distant_drone_over_the_field_without_a_sky_mask() -> None:
    """Without its horizon, V_DRONE_008 still finds the drone; the false blobs are the
    swaying field below the tree line (all below y = 400 px), which the sky mask removes."""
    det = MotionDetector()
    cap = cv2.VideoCapture(str(CLIPS / "V_DRONE_008.mp4"))
    low = high = 0
    try:
        for _ in range(90):
            ok, frame = cap.read()
            assert ok
            for b in det.process(frame).blobs:
                if b.y > 400:
                    low += 1
                elif not 150 < b.y < 300:  # the drone flies at y 150..300 in these frames
                    high += 1
    finally:
        cap.release()
    assert low > 0 and high == 0


@needs_clips
@pytest.mark.parametrize(("clip", "baseline_fp"), MOVING, ids=[c[0] for c in MOVING])
def test_frame_gate_on_moving_camera_and_exposure_swings(clip: str, baseline_fp: float) -> None:
    score = score_clip(CLIPS / f"{clip}.mp4", CLIPS / f"{clip}_labels.csv",
                       max_frames=MOVING_FRAMES)
    print(f"{clip}: false blobs/frame {score.false_per_frame:.3f} (MOG2 baseline "
          f"{baseline_fp:.2f}), {score.gated_frames}/{score.frames} frames gated, recall "
          f"{score.recall:.2f}")
    assert score.false_per_frame < 1.0
    assert score.gated_frames > 0


# --------------------------------------------------------------------------- units


def _sky(n: int, seed: int = 0) -> list[np.ndarray]:
    """A noisy grey sky with a dark 4x4 'drone' crossing it (synthetic, for unit checks)."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        f = np.clip(rng.normal(120, 1.5, (120, 160)), 0, 255).astype(np.uint8)
        x = 20 + 2 * i
        f[40:44, x:x + 4] = 40
        frames.append(f)
    return frames


def test_synthetic_target_is_found_after_warmup() -> None:
    det = MotionDetector(DetectorConfig(warmup_frames=10))
    found = []
    for i, f in enumerate(_sky(40)):
        res = det.process(f)
        if i < 10:
            assert not res.blobs
        found.append(res.blobs)
    late = found[15:]
    assert all(len(b) == 1 for b in late)
    b = late[-1][0]
    assert b.x == pytest.approx(20 + 2 * 39 + 1.5, abs=1.0) and b.y == pytest.approx(41.5, abs=1)
    assert b.contrast < -20  # dark on a bright sky


def test_horizon_mask_hides_what_is_below_it() -> None:
    det = MotionDetector(DetectorConfig(warmup_frames=10, horizon=(30.0, 30.0)))
    for f in _sky(40):
        res = det.process(f)
        assert not res.blobs  # the target at rows 40..44 is below the horizon


def test_sky_polygon_mask() -> None:
    m = sky_mask(100, 80, polygon=[(0, 0), (99, 0), (99, 40), (0, 40)], horizon=(60.0, 20.0))
    assert m is not None
    assert m[10, 10] == 255 and m[50, 10] == 0  # outside the polygon
    assert m[30, 95] == 0 and m[30, 5] == 255  # below the sloping horizon on the right
    assert sky_mask(100, 80) is None


def test_brightness_jump_gates_the_frame_and_relearns() -> None:
    det = MotionDetector(DetectorConfig(warmup_frames=10, settle_frames=3))
    frames = _sky(40)
    results = [det.process(f) for f in frames[:20]]
    jumped = [np.clip(f.astype(np.int16) + 25, 0, 255).astype(np.uint8) for f in frames[20:]]
    results += [det.process(f) for f in jumped]
    assert results[20].gated and not results[20].blobs
    assert not any(r.gated for r in results[21:])
    assert all(r.blobs for r in results[26:])  # the background relearnt, the target back
    assert det.stats.gated_frames == 1


def test_whole_image_shift_gates_the_frame() -> None:
    """A textured scene panned by 6 px: every edge changes at once; the frame is gated."""
    rng = np.random.default_rng(4)
    scene = cv2.GaussianBlur(rng.integers(0, 255, (300, 400)).astype(np.uint8), (9, 9), 0)
    det = MotionDetector(DetectorConfig(warmup_frames=5))
    for _ in range(20):
        assert not det.process(scene[50:250, 50:350]).gated
    res = det.process(scene[50:250, 56:356])
    assert res.gated and res.shift_px == pytest.approx(6.0, abs=1.0)


@pytest.mark.parametrize("frame", [
    np.zeros((0, 0, 3), dtype=np.uint8),
    np.zeros((480, 640, 3), dtype=np.uint16),
    np.zeros((480, 640), dtype=np.float32),
    np.zeros((480, 640, 2), dtype=np.uint8),
    np.zeros((4, 4), dtype=np.uint8),
    np.zeros((10, 10, 3, 2), dtype=np.uint8),
])
def test_garbage_frames_raise_frame_error_and_are_counted(frame: np.ndarray) -> None:
    det = MotionDetector()
    with pytest.raises(FrameError):
        det.process(frame)
    assert det.stats.bad_frames == 1 and det.stats.frames == 0


def test_a_new_frame_size_restarts_the_detector() -> None:
    det = MotionDetector(DetectorConfig(warmup_frames=3))
    for f in _sky(5):
        det.process(f)
    res = det.process(np.full((240, 320, 3), 100, dtype=np.uint8))
    assert not res.blobs and det.stats.resets == 1


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.int8]),
                  shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=40)))
def test_any_array_is_a_frame_or_a_frame_error(arr: np.ndarray) -> None:
    det = MotionDetector(DetectorConfig(warmup_frames=0, persistence=1))
    for _ in range(3):
        try:
            res = det.process(arr)
        except FrameError:
            continue
        assert all(0 <= b.x <= arr.shape[1] and 0 <= b.y <= arr.shape[0] for b in res.blobs)


def test_to_grey_accepts_the_usual_layouts() -> None:
    bgr = np.zeros((20, 30, 3), dtype=np.uint8)
    bgr[..., 2] = 255  # red
    assert to_grey(bgr)[0, 0] == 76
    assert to_grey(np.zeros((20, 30, 1), dtype=np.uint8)).shape == (20, 30)
    assert to_grey(np.zeros((20, 30, 4), dtype=np.uint8)).shape == (20, 30)
