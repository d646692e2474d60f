"""SAPIENT sensor kind: the fusion node that SAPIENT sensor modules report to over TCP.

Imports the SAPIENT protocol (cuas.sapient), wire, config and bus.
"""
