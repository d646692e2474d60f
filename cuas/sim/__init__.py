"""Simulation: scenario files, per-sensor measurement models and the built-in generators.

Writes recordings and truth that the rest of cuas reads like real captures; imports record, eval (truth files), wire, config, geo.
"""
