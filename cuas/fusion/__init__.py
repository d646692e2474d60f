"""The fusion engine and its I/O shells: reorder, track, identify, classify, alert, export.

Used by the live daemon and by offline replay; may import tracking, classify, sensors' registry, wire, config, geo, bus.
"""
