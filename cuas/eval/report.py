"""The evaluation's figures for people and scripts: the plain-text report ``cuas eval`` prints
and the same figures as one JSON-ready map (keys in ``docs/truth-format.md``, "JSON output").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cuas.eval.gospa import ALPHA
from cuas.eval.matching import Evaluation


def _f(x: float, unit: str) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f} {unit}"


def format_report(ev: Evaluation) -> str:
    """The plain-text report ``cuas eval`` prints; always states c and p."""
    pu = f"m^{ev.p:g}"
    lines = [
        f"GOSPA (alpha = {ALPHA}, c = {ev.c:g} m, p = {ev.p:g}), "
        f"{ev.n_steps} of {ev.n_snapshots} snapshots scored",
        f"  {'total':<14} mean {_f(ev.gospa_mean, 'm'):>14}    rms {_f(ev.gospa_rms, 'm')}",
        f"  {'localisation':<14} mean {_f(ev.localisation_mean, pu):>14}",
        f"  {'missed':<14} mean {_f(ev.missed_mean, pu):>14}",
        f"  {'false':<14} mean {_f(ev.false_mean, pu):>14}",
        f"Identity (matches closer than c = {ev.c:g} m, kept while they stay so)",
        f"  {'ID switches':<22}{ev.id_switches:>8}",
        f"  {'fragmentations':<22}{ev.fragmentations:>8}",
        f"Counts (tracks counted: {', '.join(ev.statuses)})",
        f"  {'truth objects':<22}{ev.n_truth_objects:>8}   "
        f"({ev.n_truth_instances} object-steps, {ev.n_missed_instances} missed)",
        f"  {'track ids':<22}{ev.n_track_ids:>8}   "
        f"({ev.n_unmatched_track_ids} never matched a truth)",
        f"  {'track-steps':<22}{ev.n_track_instances:>8}   "
        f"({ev.n_false_instances} false)",
    ]
    lines.extend(_timing_lines(ev))
    if ev.notes:
        lines.append("Notes")
        lines.extend(f"  - {n}" for n in ev.notes)
    return "\n".join(lines) + "\n"


def _secs(x: float | None) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:+.1f} s"


def _dur(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.1f} s"


def _confirm_times(ev: Evaluation, from_first_step: bool = False) -> list[float]:
    return [x for o in ev.objects.values() if o.steps
            for x in ((o.time_to_confirm_from_first_step_s if from_first_step
                       else o.time_to_confirm_s),) if x is not None]


def _timing_lines(ev: Evaluation) -> list[str]:
    ttc = _confirm_times(ev)
    median = float(np.median(ttc)) if ttc else math.nan
    worst = max(ttc) if ttc else math.nan
    lines = [
        "Timing (from an object's first detection, or its first scored step if later, to its "
        "first match by a counted track)",
        f"  {'time to confirm':<22}median {_dur(median)}, max {_dur(worst)}   "
        f"({len(ttc)} of {ev.n_truth_objects} objects ever matched)",
        f"  {'false tracks':<22}{ev.n_unmatched_track_ids:>8}   "
        f"({ev.false_tracks_per_hour:.1f} per hour over {ev.span_s:.0f} s)",
        "Threats (time from entering a protected zone to the first malicious flag)",
    ]
    for o in ev.threats:
        start = "zone entry" if o.entry_t is not None else "first seen"
        flag = ("never flagged malicious" if o.t_flagged is None
                else f"malicious at {start} {_secs(o.time_to_flag_s)}")
        lines.append(f"  {o.id:<22}{flag}")
    if not ev.threats:
        lines.append("  (no threat in the truth)")
    lines.append(f"  {'false alarms':<22}{ev.n_false_alarms:>8}   "
                 f"({ev.false_alarms_per_hour:.1f} per hour; malicious tracks that never "
                 "matched a threat)")
    t0 = float(ev.t[0]) if len(ev.t) else 0.0
    for tid, t_flag, obj in ev.false_alarms:
        what = f"on {obj}" if obj is not None else "on no truth object (clutter or a false track)"
        lines.append(f"  {'':<22}track {tid} flagged at +{t_flag - t0:.1f} s {what}")
    return lines


def _num_or_none(x: float | None, ndigits: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), ndigits)


def to_json(ev: Evaluation) -> dict[str, Any]:
    """The figures of :func:`format_report` as one JSON-ready map (keys in docs/truth-format.md,
    "JSON output"); NaN and missing values are ``None``."""
    ttc = _confirm_times(ev)
    return {
        "c": ev.c, "p": ev.p, "steps": ev.n_steps, "snapshots": ev.n_snapshots,
        "span_s": _num_or_none(ev.span_s),
        "gospa_mean": _num_or_none(ev.gospa_mean), "gospa_rms": _num_or_none(ev.gospa_rms),
        "localisation_mean": _num_or_none(ev.localisation_mean),
        "missed_mean": _num_or_none(ev.missed_mean), "false_mean": _num_or_none(ev.false_mean),
        "id_switches": ev.id_switches, "fragmentations": ev.fragmentations,
        "truth_objects": ev.n_truth_objects, "track_ids": ev.n_track_ids,
        "unmatched_track_ids": ev.n_unmatched_track_ids,
        "false_tracks_per_hour": _num_or_none(ev.false_tracks_per_hour),
        "time_to_confirm_median_s": _num_or_none(float(np.median(ttc)) if ttc else None),
        "time_to_confirm_max_s": _num_or_none(max(ttc) if ttc else None),
        "time_to_confirm_from_first_step_median_s": _num_or_none(
            float(np.median(ttc0)) if (ttc0 := _confirm_times(ev, True)) else None),
        "false_alarms": ev.n_false_alarms,
        "false_alarm_track_ids": list(ev.false_alarm_track_ids),
        "false_alarm_list": [{"track_id": tid, "flagged_t": t_flag, "truth": obj}
                             for tid, t_flag, obj in ev.false_alarms],
        "false_alarms_per_hour": _num_or_none(ev.false_alarms_per_hour),
        "threats": {o.id: {"entry_t": o.entry_t, "flagged_t": o.t_flagged,
                           "time_to_flag_s": _num_or_none(o.time_to_flag_s)}
                    for o in ev.threats},
        "objects": {o.id: {"class": o.object_class, "threat": o.threat, "steps": o.steps,
                           "matched_steps": o.matched_steps, "id_switches": o.id_switches,
                           "fragmentations": o.fragmentations,
                           "time_to_confirm_s": _num_or_none(o.time_to_confirm_s),
                           "detected_t": o.detected_t,
                           "track_ids": list(o.track_ids)}
                    for o in ev.objects.values() if o.steps},
        "gospa_t": [round(float(x), 3) for x in ev.t],
        "gospa": [round(float(x), 3) for x in ev.gospa],
        "notes": list(ev.notes),
    }
