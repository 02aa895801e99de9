"""The service layer: one handler per use case.

Each use case runs in one unit of work: it reads and changes state and writes every
outgoing message (AppRec, reply, Avtale) to the outbox in the same transaction. The
transport takes a received message off its queue only after that commit.
"""
