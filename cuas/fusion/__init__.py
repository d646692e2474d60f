"""The fusion engine (reorder → track → identify → classify → alert → export) and its I/O shells.

Owns messages-to-arrays, identities and the wire export; :mod:`engine` is the one pipeline, used
by :mod:`daemon` (live) and :mod:`offline` (replay). May import tracking, classify, the sensors'
registry, record, wire, config, geo and bus.
"""
