"""Everything that consumes the fused track stream through one subscriber (stream): the operator's table, Cursor on Target, SAPIENT export.

Imports wire, bus, backoff, vocabulary, config, errors, and the SAPIENT protocol (sapient, sensors.sapient.node) for its export; never fusion internals.
"""
