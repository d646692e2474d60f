"""Scoring tracks against ground truth: truth and track-log I/O, GOSPA, CLEAR-MOT matching, reports and plots.

Reads recordings' outputs only; imports wire, config, geo, errors (never fusion or sensors).
"""
