"""Exports of the daemon's picture to other systems (Cursor on Target for TAK)."""
