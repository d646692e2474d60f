"""Remote ID sensor kind: ASTM F3411 decoding (pure), pcap reading, the capture/WarDragon
source, settings, ``cuas sensor remoteid`` and the simulated receiver.

Imports wire, config, bus, cuas.sensors' shared publisher and (sim.py) cuas.sim's toolkit.
"""
