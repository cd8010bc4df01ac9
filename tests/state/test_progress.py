"""The applied-index primitive alone: targeted wake-ups, early wake-ups, shared tickets, recent results."""

from __future__ import annotations

import threading
import time

from taskraft.state.machine import OpResult
from taskraft.state.progress import Progress


def _armed(progress: Progress, index: int):
    ticket = progress.ticket()
    ticket.arm(index)
    return ticket


def test_a_publish_wakes_the_tickets_it_reached_and_no_other():
    progress = Progress()
    tickets = {index: _armed(progress, index) for index in range(1, 65)}
    progress.publish(10)
    assert progress.index == 10
    assert all(tickets[i].wait(0) for i in range(1, 11))
    assert not any(tickets[i].wait(0) or tickets[i].reached for i in range(11, 65))
    progress.publish(64)
    assert all(t.wait(0) and t.reached for t in tickets.values())


def test_a_waiting_thread_is_woken_by_the_publish_of_its_index():
    progress = Progress()
    ticket = _armed(progress, 5)
    woke = []
    waiter = threading.Thread(target=lambda: woke.append(ticket.wait(10)))
    waiter.start()
    progress.publish(4)
    time.sleep(0.05)
    assert not woke
    progress.publish(5)
    waiter.join(5)
    assert woke == [True] and ticket.reached


def test_the_index_never_moves_back_and_a_ticket_at_or_below_it_is_reached_at_once():
    progress = Progress()
    progress.publish(7)
    progress.publish(3)
    assert progress.index == 7
    ticket = _armed(progress, 7)
    assert ticket.wait(0) and ticket.reached


def test_a_ticket_armed_later_and_armed_again_lower_wakes_once_at_the_lower_index():
    progress = Progress()
    calls = []
    ticket = progress.ticket(lambda: calls.append(progress.index))
    assert not ticket.armed and not ticket.reached
    ticket.arm(20)
    ticket.arm(12)
    ticket.arm(30)  # a higher index changes nothing
    assert ticket.index == 12
    progress.publish(12)
    progress.publish(40)
    assert calls == [12]


def test_an_early_wake_up_is_not_reaching_the_index():
    progress = Progress()
    ticket = progress.ticket()
    ticket.wake()
    assert ticket.wait(0) and not ticket.reached
    ticket.clear()
    assert not ticket.wait(0)
    ticket.arm(2)
    progress.publish(2)
    assert ticket.wait(0) and ticket.reached


def test_one_ticket_wakes_every_thread_that_shares_it():
    progress = Progress()
    ticket = progress.ticket()
    woke = []
    readers = [threading.Thread(target=lambda: woke.append(ticket.wait(10))) for _ in range(16)]
    for r in readers:
        r.start()
    ticket.arm(3)
    progress.publish(3)
    for r in readers:
        r.join(5)
    assert woke == [True] * 16


def test_a_failing_callback_does_not_stop_the_others():
    progress = Progress()
    calls = []
    progress.call_when(1, lambda: 1 / 0)
    progress.call_when(1, lambda: calls.append("second"))
    progress.publish(1)
    assert calls == ["second"]
    progress.call_when(1, lambda: calls.append("now"))
    assert calls == ["second", "now"]


def test_recent_results_are_bounded_and_kept_with_their_fingerprint():
    progress = Progress(keep_results=3)
    progress.publish(1, [(f"r{i}", f"fp{i}", OpResult("created", log_index=1)) for i in range(5)])
    assert progress.result("r0", "fp0") is None and progress.result("r1", "fp1") is None
    assert progress.result("r4", "fp4").outcome == "created"
    assert progress.result("r4", "another request") is None
    # the last result published under a request id is the one kept
    progress.publish(2, [("r4", "fp-other", OpResult("idempotency_key_reused"))])
    assert progress.result("r4", "fp4") is None
    assert progress.result("r4", "fp-other").outcome == "idempotency_key_reused"
