"""RF sensor kind: IQ sources (rtl_tcp, dongle, cu8), burst DSP, control-link classification,
the scan source, settings, ``cuas sensor rf`` and the simulated scanner.

Imports wire, config, bus, cuas.sensors' shared publisher and (sim.py) cuas.sim's toolkit.
"""
