"""Each car's days: commutes, errands, weekend outings and the charging stops they need.

Planning works on routes and speed profiles only (no points yet), so the whole fleet's
schedule, battery levels and charging sessions are known before telemetry is rendered, and the
sensitive areas can be placed on roads the fleet really uses. Times are seconds since the Unix
epoch (UTC); the schedule itself follows Beijing local time (UTC+8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import numpy as np

from onshore.demo.fleet import Vehicle
from onshore.demo.grid import Place, plan_route, random_place_near
from onshore.demo.motion import Array, Profile, plan_profile

BEIJING = timezone(timedelta(hours=8))
HOUR = 3600.0


@dataclass(frozen=True)
class Station:
    """A public DC charging station on the road grid."""

    index: int
    station_id: str
    place: Place
    power_kw: float
    connectors: int


@dataclass(frozen=True)
class Trip:
    """One drive: ignition on at ``depart_s``, off at ``depart_s + profile.duration_s``."""

    vehicle: int
    seq: int
    purpose: str
    depart_s: int
    route: Array
    profile: Profile
    soc_start: float
    soc_end: float
    odometer_start_km: float

    @property
    def arrive_s(self) -> int:
        """When the ignition goes off."""
        return self.depart_s + self.profile.duration_s


@dataclass(frozen=True)
class Session:
    """A fleet car's charging session at a station."""

    vehicle: int
    station: int
    start_s: float
    end_s: float
    energy_kwh: float
    start_soc: float
    end_soc: float


@dataclass(frozen=True)
class VehiclePlan:
    """Everything one car does over the demo period, in time order."""

    vehicle: Vehicle
    trips: tuple[Trip, ...]
    sessions: tuple[Session, ...]


def local_midnight_s(start: date, day: int) -> int:
    """Epoch seconds of Beijing midnight starting day ``day`` of the demo."""
    return int(
        datetime.combine(start + timedelta(days=day), datetime.min.time(), BEIJING).timestamp()
    )


@dataclass
class _Planner:
    """Mutable state while one car's schedule is built (never leaves this module)."""

    v: Vehicle
    rng: np.random.Generator
    stations: list[Station]
    place: Place
    soc: float
    odometer: float
    free_at: float = 0.0
    trips: list[Trip] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)

    def drive(self, dest: Place, want_s: float, purpose: str, evening: bool = False) -> None:
        """Drive to ``dest`` no earlier than ``want_s``, stopping to charge when needed."""
        route = plan_route(self.place, dest, self.rng)
        length_km = float(np.abs(np.diff(route, axis=0)).sum()) / 1000.0
        after = self.soc - self._drop(length_km)
        if after < self.v.charge_below or (evening and after < 55 and self.rng.random() < 0.3):
            station = self._nearest_station(dest)
            self._go(
                station.place, want_s, "to_charge", plan_route(self.place, station.place, self.rng)
            )
            self._charge(station)
            want_s = self.free_at
            route = plan_route(self.place, dest, self.rng)
            purpose = "after_charge"
        self._go(dest, want_s, purpose, route)

    def _drop(self, length_km: float) -> float:
        return 100.0 * length_km * self.v.kwh_per_km / self.v.capacity_kwh

    def _go(self, dest: Place, want_s: float, purpose: str, route: Array) -> None:
        depart = int(max(want_s, self.free_at))
        hour = (depart / HOUR + 8) % 24
        rush = 7.0 <= hour < 9.5 or 17.0 <= hour < 19.5
        base = self.rng.uniform(32, 42) if rush else self.rng.uniform(42, 56)
        profile = plan_profile(route, self.rng, base * self.v.pace)
        drop = self._drop(profile.length_m / 1000.0) * self.rng.uniform(0.95, 1.08)
        soc_end = max(self.soc - drop, 3.0)
        trip = Trip(
            vehicle=self.v.index,
            seq=len(self.trips),
            purpose=purpose,
            depart_s=depart,
            route=route,
            profile=profile,
            soc_start=self.soc,
            soc_end=soc_end,
            odometer_start_km=self.odometer,
        )
        self.trips.append(trip)
        self.soc = soc_end
        self.odometer += profile.length_m / 1000.0
        self.place = dest
        self.free_at = trip.arrive_s

    def _nearest_station(self, dest: Place) -> Station:
        d = [abs(s.place.x - dest.x) + abs(s.place.y - dest.y) for s in self.stations]
        return self.stations[int(np.argmin(d))]

    def _charge(self, station: Station) -> None:
        start = self.free_at + self.rng.uniform(60, 240)
        end_soc = float(self.rng.uniform(80, 95))
        stored = (end_soc - self.soc) / 100.0 * self.v.capacity_kwh
        power = min(station.power_kw, self.v.max_charge_kw) * self.rng.uniform(0.6, 0.8)
        end = start + stored / power * HOUR + self.rng.uniform(60, 300)
        self.sessions.append(
            Session(
                vehicle=self.v.index,
                station=station.index,
                start_s=start,
                end_s=end,
                energy_kwh=stored / self.rng.uniform(0.92, 0.96),
                start_soc=self.soc,
                end_soc=end_soc,
            )
        )
        self.soc = end_soc
        self.free_at = end + self.rng.uniform(60, 300)

    def weekday(self, d0: float) -> None:
        v, rng = self.v, self.rng
        self.drive(v.work, d0 + np.clip(rng.normal(7.7, 0.6), 6.0, 9.8) * HOUR, "commute")
        self.free_at += 4 * HOUR
        evening = d0 + np.clip(rng.normal(18.3, 0.8), 16.5, 21.0) * HOUR
        self.drive(v.home, evening, "commute", evening=True)
        if rng.random() < 0.45 and self.free_at < d0 + 21.5 * HOUR:
            poi = random_place_near(rng, v.home.x, v.home.y, 3000.0, 1200.0)
            self.drive(poi, self.free_at + rng.uniform(0.5, 2.0) * HOUR, "errand")
            self.drive(v.home, self.free_at + rng.uniform(0.3, 1.3) * HOUR, "errand")

    def weekend(self, d0: float) -> None:
        v, rng = self.v, self.rng
        for k in range(int(rng.integers(1, 3))):
            poi = random_place_near(rng, v.home.x, v.home.y, 7000.0, 2500.0)
            self.drive(poi, d0 + rng.normal(10.0 + 5.0 * k, 1.0) * HOUR, "leisure")
            self.drive(v.home, self.free_at + rng.uniform(1.0, 3.0) * HOUR, "leisure")


def plan_vehicle(
    v: Vehicle, stations: list[Station], seed: int, start: date, days: int
) -> VehiclePlan:
    """Plan car ``v``'s trips and charging sessions for ``days`` days from ``start``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2, v.index]))
    p = _Planner(v, rng, stations, v.home, v.soc0, v.odometer0_km)
    for day in range(days):
        d0 = local_midnight_s(start, day)
        if (start + timedelta(days=day)).weekday() < 5:
            p.weekday(d0)
        else:
            p.weekend(d0)
    return VehiclePlan(v, tuple(p.trips), tuple(p.sessions))
