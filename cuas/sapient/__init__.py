"""SAPIENT (BSI Flex 335 v2.0) protocol: message bindings, framing, validation and conversion.

Pure parts only: :mod:`.proto` (the optional ``sapient-msg`` bindings), :mod:`.framing`,
:mod:`.validate`, :mod:`.convert` (inbound) and :mod:`.outbound`. Imports wire, validation,
config and errors only. Its I/O shells are the sensor kind
(:mod:`cuas.sensors.sapient`, ``cuas sapient serve``) and the output
(:mod:`cuas.outputs.sapient`, ``cuas sapient export``).
"""
