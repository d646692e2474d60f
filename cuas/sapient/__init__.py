"""SAPIENT (BSI Flex 335 v2.0) protocol: message bindings, framing, validation and conversion.

Pure parts only: :mod:`.proto` (the optional ``sapient-msg`` bindings), :mod:`.framing`,
:mod:`.validate` and :mod:`.convert`. Its I/O shells are the sensor kind
(:mod:`cuas.sensors.sapient`, ``cuas sapient serve``) and the output
(:mod:`cuas.outputs.sapient`, ``cuas sapient export``).
"""
