"""The revisions, oldest first: ``r0001_baseline`` is schema version 3."""
