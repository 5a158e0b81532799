"""A handler module that fails while it is imported."""

from mod_python import apache  # noqa: F401

RATIO = 1 / 0
