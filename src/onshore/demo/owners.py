"""Fictional owners: pinyin names, phone numbers and resident-ID-like numbers.

Every value is made up. Phone numbers all sit in the ``199 00`` block, and ID numbers use
birth-order codes from 900 up, so that demo data is easy to recognise; the ID checksum
(GB 11643-1999, ISO 7064 MOD 11-2) is valid so that detectors treat them as real-looking.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from onshore.demo.fleet import Vehicle

SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu",
            "Xu", "Sun", "Hu", "Zhu", "Gao", "Lin", "He", "Guo", "Ma", "Luo")  # fmt: skip
SYLLABLES = ("wei", "fang", "min", "jing", "li", "qiang", "lei", "jun", "yang", "yong", "yan",
             "jie", "tao", "ming", "chao", "xiu", "hua", "ping", "gang", "hui", "ning", "yu",
             "xin", "hao", "zi", "han", "rui", "bo", "lan", "kai")  # fmt: skip
REGIONS = ("110101", "110102", "110105", "110106", "110108", "110112", "110114", "110115")
"""Beijing district codes used as the ID numbers' address part."""
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
CITIES = (("Beijing", 0.9), ("Langfang", 0.04), ("Tianjin", 0.03), ("Baoding", 0.03))


def id_check_char(first17: str) -> str:
    """GB 11643 check character for the first 17 digits of a resident ID number.

    >>> id_check_char("11010519491231002")
    'X'
    """
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _owner(rng: np.random.Generator, phone_tail: int) -> tuple[str, str, str, str]:
    given = "".join(SYLLABLES[k] for k in rng.integers(len(SYLLABLES), size=rng.integers(1, 3)))
    name = f"{SURNAMES[rng.integers(len(SURNAMES))]} {given.capitalize()}"
    born = date(1960, 1, 1) + timedelta(days=int(rng.integers(0, 42 * 365)))
    body = f"{REGIONS[rng.integers(len(REGIONS))]}{born:%Y%m%d}{rng.integers(900, 1000)}"
    w = np.array([c[1] for c in CITIES])
    city = CITIES[rng.choice(len(CITIES), p=w / w.sum())][0]
    return name, f"19900{phone_tail:06d}", body + id_check_char(body), city


def write_owners(path: Path, fleet: Sequence[Vehicle], seed: int) -> int:
    """Write ``owners.csv`` (one owner per car, by VIN); returns the number of rows."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    tails = rng.choice(1_000_000, size=len(fleet), replace=False)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["vin", "owner_name", "phone", "id_number", "city"])
        for v, tail in zip(fleet, tails, strict=True):
            out.writerow([v.vin, *_owner(rng, int(tail))])
    return len(fleet)
