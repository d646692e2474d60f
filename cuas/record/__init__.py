"""Recordings: reading (recording) and writing (writer) the MCAP/JSON Lines format, the recorder, replay onto the bus, retention.

Imports wire, bus, errors only.
"""
