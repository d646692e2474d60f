"""The ``cuas`` command line: one entry point, each subcommand in its own module."""
