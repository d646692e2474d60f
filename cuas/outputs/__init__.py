"""Everything that consumes the fused track stream: the operator's table, Cursor on Target, SAPIENT export.

Imports wire, bus, config, errors (and the SAPIENT protocol for its export); never fusion internals.
"""
