"""Batched database work: callers arriving together share one call, each gets its own result."""

from __future__ import annotations

import asyncio
import threading

import pytest

from realtime.batching import Batched


class Recorder:
    """A sync batch function that records the batches it got, and can be held."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.gate.wait(timeout=10)
        self.batches.append(list(items))
        return [ValueError(f"odd {item}") if item % 2 else item * 10 for item in items]


async def test_calls_made_together_share_one_batch_and_get_their_own_results() -> None:
    run = Recorder()
    batched = Batched(run)
    results = await asyncio.gather(*(batched(item) for item in (2, 4, 6)))
    assert results == [20, 40, 60]
    assert run.batches == [[2, 4, 6]]


async def test_an_item_that_fails_fails_alone() -> None:
    batched = Batched(Recorder())
    results = await asyncio.gather(batched(2), batched(3), batched(4), return_exceptions=True)
    assert results[0] == 20 and results[2] == 40
    assert isinstance(results[1], ValueError) and str(results[1]) == "odd 3"


async def test_calls_arriving_while_a_batch_runs_make_the_next_batch() -> None:
    run = Recorder()
    run.gate.clear()
    batched = Batched(run, parallel=1)
    first = asyncio.ensure_future(batched(2))
    await asyncio.sleep(0)  # the first batch starts (and waits on the gate)
    later = [asyncio.ensure_future(batched(item)) for item in (4, 6, 8)]
    await asyncio.sleep(0)
    run.gate.set()
    assert await first == 20
    assert await asyncio.gather(*later) == [40, 60, 80]
    assert run.batches == [[2], [4, 6, 8]]


async def test_batches_are_capped_in_size() -> None:
    run = Recorder()
    batched = Batched(run, largest=2)
    assert await asyncio.gather(*(batched(item) for item in (2, 4, 6, 8, 10))) == [
        20,
        40,
        60,
        80,
        100,
    ]
    assert sorted(len(batch) for batch in run.batches) == [1, 2, 2]


async def test_a_failing_batch_fails_each_of_its_callers() -> None:
    def broken(items: list[int]) -> list[int]:
        raise RuntimeError("database down")

    batched = Batched(broken)
    results = await asyncio.gather(batched(1), batched(2), return_exceptions=True)
    assert [str(result) for result in results] == ["database down", "database down"]
    # The next call is tried again, not stuck behind the failure.
    with pytest.raises(RuntimeError):
        await batched(3)


async def test_an_item_that_breaks_its_batch_fails_alone() -> None:
    calls: list[list[int]] = []

    def strict(items: list[int]) -> list[int]:
        calls.append(list(items))
        if 13 in items:
            raise ValueError("13 breaks any batch it is in")
        return [item + 1 for item in items]

    batched = Batched(strict)
    results = await asyncio.gather(*(batched(i) for i in (1, 13, 2)), return_exceptions=True)
    assert results[0] == 2 and results[2] == 3
    assert isinstance(results[1], ValueError)
    assert calls == [[1, 13, 2], [1], [13], [2]]


async def test_a_caller_that_goes_away_does_not_disturb_the_others() -> None:
    run = Recorder()
    run.gate.clear()
    batched = Batched(run)
    leaving = asyncio.ensure_future(batched(2))
    staying = asyncio.ensure_future(batched(4))
    await asyncio.sleep(0)
    leaving.cancel()
    run.gate.set()
    assert await staying == 40
    assert leaving.cancelled()
