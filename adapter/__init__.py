"""EPJ-side scheduling adapter for online booking with Norwegian GPs (Helsenorge)."""

__version__ = "0.1.0"
