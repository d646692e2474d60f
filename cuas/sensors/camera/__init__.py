"""Camera sensor kind: moving-object detection in video (pure), camera geometry, the capture
source, settings, ``cuas sensor camera`` and the simulated camera (az/el bearings).

Imports wire, config, bus, cuas.sensors' shared publisher and (sim.py) cuas.sim's toolkit.
"""
