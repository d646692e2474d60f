"""Sensor adapters: one module per sensor kind, each a thin I/O shell around a pure parser or
detector that can be tested on bytes and arrays. They publish ``detections`` per the wire
contract (docs/wire.md)."""
