"""lomsong: survey mobile and fixed broadband quality in a ward and send carriers the evidence.

This small package holds only the `lomsong` command line and the demo; the work is done in the
four parts: `probe`, `collector`, `analysis` and `maps`.
"""

__version__ = "0.1.0"
