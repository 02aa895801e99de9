"""What the kill storm accepts as the re-send of a message in flight at a SIGKILL.

The README promises that a crash re-sends only "the one message in flight at the
moment of a crash ... with the same AMQP messageId" (HITS 1216 §2.2.4: the receiver
drops a duplicate; §2.2.5: a resend keeps its ids). The storm's check
(:func:`~tests.scaleout.conftest.resent_after_kill`) must tell that re-send from a
message sent twice for any other reason; these cases pin its bounds, times in seconds
of ``time.monotonic()``.
"""

from __future__ import annotations

from tests.scaleout.conftest import resent_after_kill

KILL = 100.0


def test_a_copy_around_the_kill_and_one_after_the_claim_ran_out_is_the_resend() -> None:
    explained, unexplained = resent_after_kill({"m": [KILL - 0.01, KILL + 9.5]}, [KILL])
    assert explained == {"m": KILL}
    assert unexplained == []


def test_a_copy_that_reached_helsenorge_shortly_after_the_kill_still_counts() -> None:
    explained, _ = resent_after_kill({"m": [KILL + 2.5, KILL + 8.0]}, [KILL])
    assert explained == {"m": KILL}


def test_two_copies_close_together_are_no_resend_even_at_a_kill() -> None:
    # A re-send waits for the dead instance's claim to run out; two copies 0.5 s apart
    # were sent twice by something else.
    explained, unexplained = resent_after_kill({"m": [KILL, KILL + 0.5]}, [KILL])
    assert explained == {}
    assert unexplained == ["m"]


def test_a_duplicate_far_from_every_kill_is_unexplained() -> None:
    explained, unexplained = resent_after_kill({"m": [KILL + 30.0, KILL + 40.0]}, [KILL])
    assert explained == {}
    assert unexplained == ["m"]


def test_a_duplicate_without_any_kill_is_unexplained() -> None:
    assert resent_after_kill({"m": [KILL, KILL + 10.0]}, []) == ({}, ["m"])


def test_three_copies_are_never_a_resend() -> None:
    explained, unexplained = resent_after_kill({"m": [KILL, KILL + 10.0, KILL + 20.0]}, [KILL])
    assert explained == {}
    assert unexplained == ["m"]


def test_one_kill_explains_at_most_the_two_dispatches_a_process_can_have_in_flight() -> None:
    arrivals = {
        "a": [KILL - 0.3, KILL + 10.0],
        "b": [KILL - 0.2, KILL + 10.1],
        "c": [KILL - 0.1, KILL + 10.2],
    }
    explained, unexplained = resent_after_kill(arrivals, [KILL])
    assert explained == {"a": KILL, "b": KILL}
    assert unexplained == ["c"]


def test_messages_that_arrived_once_are_left_out() -> None:
    assert resent_after_kill({"m": [KILL]}, [KILL]) == ({}, [])
