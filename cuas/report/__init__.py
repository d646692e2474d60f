"""After the incident: reports and exports of recordings (``cuas report``).

:mod:`cuas.report.model` holds the typed picture of an incident (track paths, alerts, sensors,
identities, acknowledgements, integrity); :mod:`cuas.report.load` builds it from a recording
(and a web-console audit log); :mod:`cuas.report.exports` writes KML, GeoJSON, CSV and GPX;
:mod:`cuas.report.document` the PDF and HTML incident report (matplotlib);
:mod:`cuas.report.foxglove` an MCAP with Foxglove's well-known schemas;
:mod:`cuas.report.summary` the pattern of life over many recordings.

May import the foundation, :mod:`cuas.record` and :mod:`cuas.config`; nothing imports it but
the command line.
"""
