"""Many sites federated on NATS: each site's bridge (``cuas bridge nats``) shares its tracks,
alerts and heartbeats; the regional node (``cuas federate``) fuses them into one picture.

Layers: :mod:`.fuse` (pure batched track-to-track association and covariance intersection),
:mod:`.regional` (the picture, no sockets), :mod:`.link` (NATS subjects, connection, stream),
:mod:`.bridge` and :mod:`.federate` (the two processes). Imports wire, config, geo-level
libraries, bus and outputs.stream; nothing imports it but the CLI.
"""
