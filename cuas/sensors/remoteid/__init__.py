"""Remote ID sensor kind: ASTM F3411 decoding (pure), pcap reading and the capture/WarDragon source.

Imports wire, config, bus and cuas.sensors' shared publisher.
"""
