"""GB/T 32960.3 frames per second decoded into Arrow: Onshore against rtm_con (PyPI).

The peer is ``rtm-con`` (PyPI, a construct-based GB/T 32960.3 2016/2025 parser): per frame
``rtm_con.msg.parse`` then ``rtm_con.flat_msg``, rows into ``pa.Table.from_pylist``. (The
``gb32960`` name on PyPI is an empty placeholder package.) Onshore runs
``decode_stream`` (vectorized) and, for reference, ``decode_frame`` + ``frames_to_arrow``.

Input: the 112 length-consistent real frames of ../shared/data/real/gbt32960_frames, repeated
to a stream. 98 of them carry a wrong check code, so every decoder runs without the BCC
check (``lenient_bcc=True``; rtm_con's ``msg`` does not check it).

    pip install -e '.[bench-gbt32960]'
    python bench/gbt32960.py [--repeat 100] [--peer-repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pyarrow as pa

from onshore import gbt32960 as g

FRAMES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real" / "gbt32960_frames"


def _frames() -> list[bytes]:
    path = FRAMES / "frames.txt"
    if not path.is_file():
        sys.exit(f"{path} is absent: the bench needs the real frames")
    frames = [bytes.fromhex(line) for line in path.read_text().split()]
    return [f for f in frames if len(f) == 25 + int.from_bytes(f[22:24], "big")]


def _best(fn, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=100, help="copies of the frames for Onshore")
    ap.add_argument("--peer-repeat", type=int, default=5, help="copies for the slower paths")
    args = ap.parse_args()
    frames = _frames()
    big = b"".join(frames) * args.repeat
    small_frames = frames * args.peer_repeat
    small = b"".join(small_frames)
    results: list[tuple[str, int, float]] = []

    table, errors = g.decode_stream(big, lenient_bcc=True)
    assert not errors and table.num_rows == 107 * args.repeat
    secs = _best(lambda: g.decode_stream(big, lenient_bcc=True))
    results.append(("onshore decode_stream (vectorized)", len(frames) * args.repeat, secs))

    def objects() -> pa.Table:
        return g.frames_to_arrow(g.decode_frame(f, lenient_bcc=True) for f in small_frames)

    results.append(("onshore decode_frame + frames_to_arrow", len(small_frames), _best(objects)))
    assert g.decode_stream(small, lenient_bcc=True)[0].equals(objects())

    try:
        import rtm_con
    except Exception as exc:  # the peer is optional; say why it is missing
        print(f"peer rtm_con unavailable ({exc!r}); pip install -e '.[bench-gbt32960]'")
        rtm_con = None
    if rtm_con is not None:
        failed = 0

        def peer() -> pa.Table:
            nonlocal failed
            rows, failed = [], 0
            for f in small_frames:
                try:
                    rows.append(dict(rtm_con.flat_msg(rtm_con.msg.parse(f))))
                except Exception:
                    failed += 1
            rows = [{k: (v if isinstance(v, int | float | str | bytes) or v is None else str(v))
                     for k, v in r.items()} for r in rows]  # fmt: skip
            return pa.Table.from_pylist(rows)

        peer_secs = _best(peer, runs=1)
        results.append(
            (f"rtm_con {rtm_con_version()} parse + flat_msg + Arrow", len(small_frames), peer_secs)
        )
        if failed:
            print(f"rtm_con raised on {failed} of {len(small_frames)} frames (counted in its time)")

    base = results[-1][1] / results[-1][2]
    print(f"{'decoder':58} {'frames':>8} {'seconds':>8} {'frames/s':>10} {'ratio':>7}")
    for name, n, secs in results:
        print(f"{name:58} {n:8d} {secs:8.3f} {n / secs:10.0f} {n / secs / base:6.1f}x")


def rtm_con_version() -> str:
    from importlib.metadata import version

    return version("rtm-con")


if __name__ == "__main__":
    main()
