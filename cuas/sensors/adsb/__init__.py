"""ADS-B sensor kind: Beast/SBS/AVR framing and Mode S decoding (pure), the TCP/file source,
settings, ``cuas sensor adsb`` and the simulated receiver.

Imports wire, config, bus, cuas.sensors' shared publisher and (sim.py) cuas.sim's toolkit.
"""
