"""The load's jobs: the most urgent first, each once what it needs is done."""

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from linkgraph.load._jobs import Jobs


def test_a_free_worker_takes_the_most_urgent_job_not_the_first_submitted():
    ran: list[str] = []
    release = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        jobs = Jobs(pool)
        jobs.submit(0, release.wait)  # holds the one worker while the others queue
        for priority, name in ((5, "hash files"), (1, "code sign-ins"), (3, "read orders"),
                               (1, "code devices")):
            jobs.submit(priority, ran.append, name)
        release.set()
    assert ran == ["code sign-ins", "code devices", "read orders", "hash files"]


def test_a_job_waits_for_every_job_it_needs_and_reads_their_results():
    release = threading.Event()
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = Jobs(pool)
        slow = jobs.submit(0, lambda: release.wait() and "read")
        quick = jobs.submit(0, lambda: "ids")
        both = jobs.after([slow, quick], 0, lambda a, b: f"{a.result()}+{b.result()}", slow, quick)
        quick.result()
        assert not both.done()
        release.set()
        assert both.result() == "read+ids"


def test_a_job_whose_input_failed_fails_the_same_way_and_the_others_still_run():
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = Jobs(pool)
        broken: Future[str] = jobs.submit(0, lambda: (_ for _ in ()).throw(OSError("no file")))
        reader = jobs.after([broken], 0, lambda need: need.result().upper(), broken)
        after_anyway = jobs.after([broken], 0, lambda: "finished")
        with pytest.raises(OSError, match="no file"):
            reader.result()
        assert after_anyway.result() == "finished"


def test_a_job_given_after_the_pool_shut_down_fails_instead_of_hanging():
    pool = ThreadPoolExecutor(max_workers=1)
    jobs = Jobs(pool)
    need: Future[int] = Future()
    waiting = jobs.after([need], 0, lambda: 1)
    pool.shutdown()
    need.set_result(0)
    with pytest.raises(RuntimeError):
        waiting.result(timeout=5)
