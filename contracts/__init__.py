"""Contract types shared by every layer: errors, the predictions contract, capped file reads.

``harness``, ``graders`` and ``sandbox`` all import from here and this package imports from none
of them, so the lower layers never reach up into the harness.
"""
