"""Real processes appending to one SQLite ledger at once give one consistent log."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ledger_support import make_entry

from onshore.keystore import Keystore
from onshore.ledger import Ledger

WORKERS = 4
PER_WORKER = 25


def _worker(args: tuple[str, int]) -> list[int]:
    home, worker = args
    sizes = []
    with Ledger.open(home=home, keystore=Keystore(f"{home}/keys", environ={})) as ledger:
        for n in range(PER_WORKER):
            entry = make_entry(worker * 1000 + n, dataset=f"worker-{worker}")
            sizes.append(ledger.append(entry).tree_size)
    return sizes


def test_concurrent_appends_from_processes(tmp_path: Path) -> None:
    home = str(tmp_path)
    # An executor, not a Pool: a worker that dies fails the test instead of hanging it.
    with ProcessPoolExecutor(WORKERS, mp_context=mp.get_context("spawn")) as pool:
        results = list(pool.map(_worker, [(home, w) for w in range(WORKERS)], timeout=300))
    sizes = sorted(s for r in results for s in r)
    assert sizes == list(range(1, WORKERS * PER_WORKER + 1))  # every append got its own size
    for r in results:
        assert r == sorted(r)
    with Ledger.open(home=home, keystore=Keystore(f"{home}/keys", environ={})) as ledger:
        report = ledger.verify()
        assert report.ok, report.problems
        assert report.entries == report.heads == WORKERS * PER_WORKER
        for w in range(WORKERS):
            entries = [e for _, e in ledger.entries(dataset=f"worker-{w}")]
            assert [e.counts["records"] for e in entries] == [
                w * 1000 + n for n in range(PER_WORKER)
            ]


def _appender(home: str, count: int) -> None:
    with Ledger.open(home=home, keystore=Keystore(f"{home}/keys", environ={})) as ledger:
        for n in range(count):
            ledger.append(make_entry(n, dataset="appender"))


def test_verify_while_another_process_appends(tmp_path: Path) -> None:
    """A verify that reads while another process appends is not damage (the console's ledger
    view verified while its own search appended a view entry, and reported 'entries 21..21 are
    not covered by any signed tree head')."""
    home = str(tmp_path)
    _appender(home, 5)
    context = mp.get_context("spawn")
    writer = context.Process(target=_appender, args=(home, 300))
    with Ledger.open(home=home, keystore=Keystore(f"{home}/keys", environ={})) as ledger:
        writer.start()
        reports = []
        while writer.is_alive():
            reports.append(ledger.verify())
        writer.join(120)
        reports.append(ledger.verify())
    assert writer.exitcode == 0
    assert len(reports) > 1
    assert all(r.ok for r in reports), [r.problems for r in reports if not r.ok][:1]
    assert reports[-1].entries == 305
