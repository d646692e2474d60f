"""cuas: counter-drone sensor fusion. Detections in, fused and classified tracks out."""

__version__ = "0.1.0"
