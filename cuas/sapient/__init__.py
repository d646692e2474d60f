"""SAPIENT (BSI Flex 335 v2.0) interface: cuas as a fusion node that SAPIENT sensor modules
report to, and as a child node that reports its fused tracks upward.

The pure parts: :mod:`.framing` (length-prefixed ``SapientMessage`` frames on a TCP stream),
:mod:`.validate` (the ICD's mandatory-field, UUID, ULID and time rules), :mod:`.convert`
(DetectionReport -> contract detections; tracks and alerts -> DetectionReports and Alerts).
The I/O shells: :mod:`.node` (``cuas sapient serve``) and :mod:`.export`
(``cuas sapient export``). The protobuf bindings come from the optional PyPI package
``sapient-msg`` (``pip install 'cuas[sapient]'``), imported only in :mod:`.proto`.
"""
