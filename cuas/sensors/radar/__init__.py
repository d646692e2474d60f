"""Radar sensor kind: no adapter of its own yet (radars report through SAPIENT or the bus
directly); its simulated model for scenario files. Imports wire, geo and cuas.sim's toolkit.
"""
