"""Sensor kinds, one subpackage each, declared in :mod:`.registry`: a pure decoder or detector,
the I/O source, its settings (``settings.py``), ``cuas sensor KIND`` (``cli.py``) and its
simulated model (``sim.py``) where one exists.

They publish ``detections`` per the wire contract (docs/wire.md) through the shared
:mod:`.publisher`; imports wire, config, bus, errors (and cuas.sim's toolkit for the simulated
models); never tracking, fusion or classify. docs/adding-a-sensor-kind.md adds one.
"""
