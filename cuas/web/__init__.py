"""The operator's browser console (``cuas web``): an aiohttp server that follows the daemon's
track stream through :class:`cuas.outputs.stream.TrackStream`, keeps a bounded picture and its
recent history, and pushes compact deltas to browsers over a WebSocket; accounts with argon2
hashes and roles, sessions, CSRF, a login rate limit, TLS, and a hash-chained audit log of
what operators did. Its static assets (and the vendored MapLibre GL JS) ship in ``static/``.

May import the foundation (wire, config, bus, geo, errors, vocabulary) and cuas.outputs;
never the engine, the tracker, the classifier, sensors or the command line.
"""
