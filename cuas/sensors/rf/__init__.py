"""RF sensor kind: IQ sources (rtl_tcp, dongle, cu8), burst DSP, control-link classification, the scan source.

Imports wire, config, bus and cuas.sensors' shared publisher.
"""
