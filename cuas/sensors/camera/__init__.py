"""Camera sensor kind: moving-object detection in video (pure), camera geometry, and the capture source.

Publishes az/el bearings; imports wire, config, bus and cuas.sensors' shared publisher.
"""
