"""Scoring tracks against ground truth: truth files (truth), the tracker's output (tracklog), GOSPA, CLEAR-MOT matching, reports, plots.

Imports wire, vocabulary, validation, config, errors and classify.zones (plots); never fusion, tracking or sensors.
"""
