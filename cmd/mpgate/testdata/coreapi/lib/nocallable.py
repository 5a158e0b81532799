"""A handler module without the phase's callable (handler)."""

from mod_python import apache  # noqa: F401

NOT_A_HANDLER = True
