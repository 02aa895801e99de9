"""The pure core: clinic, practitioners, slots, appointments, release rules.

Nothing here does I/O or reads the clock: time is passed in as ``now``.
"""
