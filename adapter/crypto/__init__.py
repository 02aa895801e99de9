"""Certificate primitives: parsing, key usage, revocation lists. They know no parties
(the registry does) and no queues (the transport does)."""
