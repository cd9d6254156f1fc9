"""Coverage-guided fuzzing of the GB/T 32960.3 decoders with atheris (libFuzzer).

Any input must give a frame or a FrameError from ``decode_frame``, and ``iter_frames`` and
``decode_stream`` must never raise. Run by ``test_fuzz.py`` in CI size, or by hand:

    python tests/gbt32960/fuzz_decode.py -runs=1000000 -max_len=4096 CORPUS_DIR
"""

from __future__ import annotations

import contextlib
import sys

import atheris

import onshore  # noqa: F401  (the package's other modules (pyarrow, pandas, …) load uninstrumented)

# Coverage feedback for the codec only: instrumenting every import made the process start
# above libFuzzer's 1 GB RSS limit.
with atheris.instrument_imports(include=["onshore.gbt32960"]):
    from onshore import gbt32960 as g


def test_one_input(data: bytes) -> None:
    lenient = bool(data) and data[-1] & 1 == 1
    with contextlib.suppress(g.FrameError):
        g.decode_frame(data, lenient_bcc=lenient)
    for _ in g.iter_frames(data, lenient_bcc=lenient):
        pass
    g.decode_stream(data, lenient_bcc=lenient)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
