"""core.events: the live event hub, its replay buffer and its subscriber queues."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from cozygen.core.events import Event, EventHub


async def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def test_publish_from_another_thread_reaches_an_asyncio_subscriber() -> None:
    hub = EventHub()

    async def main() -> list[Event]:
        sub = hub.subscribe()
        assert hub.subscriber_count == 1

        def publisher() -> None:
            hub.publish("file.created", {"n": 1})
            hub.publish("file.deleted", {"n": 2})

        thread = threading.Thread(target=publisher)
        thread.start()
        received = [await asyncio.wait_for(sub.queue.get(), timeout=5) for _ in range(2)]
        thread.join()
        hub.unsubscribe(sub)
        return received

    first, second = asyncio.run(main())
    assert (first.kind, first.data, first.seq) == ("file.created", {"n": 1}, 1)
    assert (second.kind, second.data, second.seq) == ("file.deleted", {"n": 2}, 2)
    assert first.id == f"{hub.boot}-1" and second.id == f"{hub.boot}-2"
    assert hub.subscriber_count == 0


def test_every_subscriber_gets_every_event_and_unsubscribed_ones_none() -> None:
    hub = EventHub()

    async def main() -> tuple[list[int], list[int], int]:
        a, b = hub.subscribe(), hub.subscribe()
        hub.publish("x", {})
        hub.unsubscribe(b)
        hub.publish("y", {})
        got_a = [(await asyncio.wait_for(a.queue.get(), 5)).seq for _ in range(2)]
        await asyncio.sleep(0)  # let anything wrongly scheduled for b arrive
        got_b = []
        while not b.queue.empty():
            got_b.append(b.queue.get_nowait().seq)
        return got_a, got_b, hub.subscriber_count

    got_a, got_b, count = asyncio.run(main())
    assert got_a == [1, 2]
    assert got_b == [1]
    assert count == 1


def test_a_subscriber_whose_loop_closed_is_dropped_on_publish() -> None:
    hub = EventHub()

    async def subscribe_and_leave() -> None:
        hub.subscribe()

    asyncio.run(subscribe_and_leave())  # the loop is closed afterwards; nobody unsubscribed
    assert hub.subscriber_count == 1
    event = hub.publish("x", {"still": "recorded"})
    assert hub.subscriber_count == 0
    assert hub.since(f"{hub.boot}-0") == ([event], True)


def test_concurrent_publishers_get_unique_consecutive_ids() -> None:
    hub = EventHub(capacity=10_000)
    ids: list[int] = []
    lock = threading.Lock()

    def publish_many() -> None:
        for _ in range(500):
            seq = hub.publish("x", {}).seq
            with lock:
                ids.append(seq)

    threads = [threading.Thread(target=publish_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ids) == list(range(1, 4001))
    assert hub.last_seq == 4000
    events, complete = hub.since(f"{hub.boot}-0")
    assert complete and [e.seq for e in events] == list(range(1, 4001))


# -- replay -----------------------------------------------------------------------------
def test_since_replays_what_was_missed() -> None:
    hub = EventHub()
    assert hub.last_seq == 0
    events = [hub.publish("e", {"i": i}) for i in range(5)]
    assert hub.last_seq == 5
    assert hub.since(events[1].id) == (events[2:], True)
    assert hub.since(events[-1].id) == ([], True)
    assert hub.since(f"{hub.boot}-0") == (events, True)


@pytest.mark.parametrize("last_event_id", [None, ""])
def test_since_without_an_id_is_a_fresh_start(last_event_id: str | None) -> None:
    hub = EventHub()
    hub.publish("e", {})
    assert hub.since(last_event_id) == ([], True)


def test_since_another_boot_means_reload() -> None:
    hub = EventHub()
    first = hub.publish("e", {})
    hub.publish("e", {})
    other_boot = format(int(hub.boot, 16) - 1, "x")
    assert hub.since(f"{other_boot}-{first.seq}") == ([], False)
    assert hub.since(f"{other_boot}-0") == ([], False)


def test_since_an_id_older_than_the_buffer_means_reload() -> None:
    hub = EventHub(capacity=3)
    events = [hub.publish("e", {"i": i}) for i in range(6)]  # the buffer keeps 4, 5, 6
    assert hub.since(events[0].id) == (events[3:], False)  # 2 and 3 are lost
    assert hub.since(events[1].id) == (events[3:], False)  # 3 is lost
    assert hub.since(events[2].id) == (events[3:], True)  # nothing lost
    assert hub.since(events[4].id) == (events[5:], True)
    assert hub.since(f"{hub.boot}-0")[1] is False


@pytest.mark.parametrize(
    "garbage",
    [
        "garbage",
        "-",
        "-1",
        "{boot}-",
        "{boot}-x",
        "{boot}--1",
        "{boot}-1.5",
        "{boot}- 1",
        "{boot}-²",  # a Unicode digit: str.isdigit() says yes, int() says no
        "{boot}-" + "1" * 5000,  # more digits than int() converts
        "{boot}",
    ],
)
def test_since_garbage_means_reload(garbage: str) -> None:
    hub = EventHub()
    hub.publish("e", {})
    assert hub.since(garbage.format(boot=hub.boot)) == ([], False)


# -- back-pressure ------------------------------------------------------------------------
def test_a_full_subscriber_queue_sets_overflowed() -> None:
    hub = EventHub(queue_size=2)

    async def main() -> tuple[bool, bool, list[int], list[int]]:
        slow, fast = hub.subscribe(), hub.subscribe()
        received: list[int] = []

        async def drain() -> None:
            while len(received) < 3:
                received.append((await fast.queue.get()).seq)

        drainer = asyncio.create_task(drain())
        for _ in range(3):
            await asyncio.to_thread(hub.publish, "e", {})
            await _wait_for(lambda: fast.queue.empty())
        await _wait_for(lambda: slow.overflowed or slow.queue.qsize() > 2)
        await asyncio.wait_for(drainer, 5)
        kept = [slow.queue.get_nowait().seq for _ in range(slow.queue.qsize())]
        return slow.overflowed, fast.overflowed, kept, received

    slow_overflowed, fast_overflowed, kept, received = asyncio.run(main())
    assert slow_overflowed is True
    assert kept == [1, 2]  # the third did not fit
    assert fast_overflowed is False
    assert received == [1, 2, 3]
