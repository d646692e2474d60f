"""Sensor kinds, one subpackage each (a thin I/O shell around a pure parser or detector).

They publish ``detections`` per the wire contract (docs/wire.md) through the shared
:mod:`.publisher`; imports wire, config, bus, errors; never tracking, fusion or classify.
"""
