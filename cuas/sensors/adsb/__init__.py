"""ADS-B sensor kind: Beast/SBS/AVR decoding (pure) and the TCP/file source that publishes detections.

Imports wire, config, bus and cuas.sensors' shared publisher.
"""
