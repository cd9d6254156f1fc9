"""The demo fleet: battery-electric cars with fictional VINs, a home and a workplace each.

Homes cluster around residential districts, workplaces around business districts of Beijing;
a car's workplace is drawn with a preference for nearby districts, so commutes are mostly
8-20 km like real ones. Each car gets its own random stream (``SeedSequence([seed, 1, i])``),
so car ``i`` is the same whatever the fleet size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onshore.classify.vin import vin_check_char
from onshore.demo.grid import Place, random_place_near, to_local

WMIS = ("LSV", "LFV", "LGX", "LRW", "LNB", "L6T")
"""World manufacturer identifiers of makers building in China (the rest of each VIN is made up)."""
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
MODEL_YEARS = "MNPRST"
"""Model-year codes 2021-2026."""

RESIDENTIAL = (
    # (lon, lat, weight): districts where demo owners live
    (116.41, 40.06, 3.0),
    (116.33, 40.06, 3.0),
    (116.64, 39.90, 2.5),
    (116.34, 39.76, 2.0),
    (116.28, 39.85, 2.0),
    (116.21, 39.92, 1.5),
    (116.55, 39.96, 2.0),
    (116.47, 39.99, 2.0),
    (116.44, 39.86, 1.5),
)
BUSINESS = (
    # (lon, lat, weight): districts where they work
    (116.46, 39.91, 4.0),
    (116.31, 39.98, 3.5),
    (116.36, 39.91, 2.5),
    (116.48, 39.99, 2.5),
    (116.50, 39.79, 1.5),
    (116.40, 39.94, 2.0),
)


@dataclass(frozen=True)
class Vehicle:
    """One demo car and its owner's habits."""

    index: int
    vin: str
    home: Place
    work: Place
    capacity_kwh: float
    kwh_per_km: float
    max_charge_kw: float
    soc0: float
    odometer0_km: float
    charge_below: float
    pace: float


def make_vin(rng: np.random.Generator, serial: int) -> str:
    """A VIN with a Chinese WMI, made-up descriptor and serial, and a valid check digit."""
    wmi = WMIS[rng.integers(len(WMIS))]
    vds = "".join(VIN_CHARS[k] for k in rng.integers(len(VIN_CHARS), size=5))
    year = MODEL_YEARS[rng.integers(len(MODEL_YEARS))]
    plant = VIN_CHARS[rng.integers(len(VIN_CHARS))]
    body = f"{wmi}{vds}0{year}{plant}{serial:06d}"
    return body[:8] + vin_check_char(body) + body[9:]


def _hub(rng: np.random.Generator, hubs: tuple[tuple[float, float, float], ...]) -> int:
    w = np.array([h[2] for h in hubs])
    return int(rng.choice(len(hubs), p=w / w.sum()))


def _workplace(rng: np.random.Generator, home: Place) -> Place:
    centres = np.array([to_local(lon, lat) for lon, lat, _ in BUSINESS])
    dist = np.abs(centres - [home.x, home.y]).sum(axis=1)
    w = np.array([h[2] for h in BUSINESS]) * np.exp(-dist / 9000.0)
    work = home
    for _ in range(8):
        cx, cy = centres[rng.choice(len(BUSINESS), p=w / w.sum())]
        work = random_place_near(rng, cx, cy, 1800.0)
        if 5000.0 <= abs(work.x - home.x) + abs(work.y - home.y) <= 22000.0:
            break
    return work


def make_vehicle(seed: int, index: int, serial: int) -> Vehicle:
    """Car ``index`` of the fleet made with ``seed`` (``serial`` keeps VINs unique)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1, index]))
    vin = make_vin(rng, serial)
    lon, lat, _ = RESIDENTIAL[_hub(rng, RESIDENTIAL)]
    hx, hy = to_local(lon, lat)
    home = random_place_near(rng, hx, hy, 2500.0)
    capacity = float(rng.choice([52.0, 60.0, 64.0, 72.0, 78.0, 85.0]))
    return Vehicle(
        index=index,
        vin=vin,
        home=home,
        work=_workplace(rng, home),
        capacity_kwh=capacity,
        kwh_per_km=float(rng.uniform(0.14, 0.19)),
        max_charge_kw=float(rng.choice([60.0, 90.0, 120.0])),
        soc0=float(np.round(rng.uniform(28, 92), 1)),
        odometer0_km=float(np.round(rng.uniform(3000, 90000), 1)),
        charge_below=float(rng.uniform(25, 40)),
        pace=float(rng.uniform(0.9, 1.1)),
    )


def make_fleet(seed: int, vehicles: int) -> list[Vehicle]:
    """The fleet, sorted by VIN (the order telemetry is written in)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    serials = rng.choice(1_000_000, size=vehicles, replace=False)
    fleet = [make_vehicle(seed, i, int(serials[i])) for i in range(vehicles)]
    return sorted(fleet, key=lambda v: v.vin)
