"""How a demo car moves along a route: a speed profile planned per trip, rendered at 1 Hz.

A trip is a sequence of *runs* between places where the car slows down: the start, corners
(turn at walking pace, or stop at a red light), intersections where the light is red, and the
end. Each run accelerates, cruises and decelerates (a trapezoid in speed). The profile is a few
numbers per run, so planning a whole fleet is cheap and the trip's duration is known before a
single point exists; :func:`render_trip` then evaluates it at every second with NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from onshore.demo.grid import GRID_M

Array = NDArray[np.float64]

KMH = 1 / 3.6
MIN_CRUISE, MAX_CRUISE = 30 * KMH, 70 * KMH
"""Cruising speeds stay within 30-70 km/h (short runs between stops may not reach them)."""
LANE_OFFSET_M = 4.0
"""Cars drive on the right: positions sit this far right of the road's centre line."""


@dataclass(frozen=True)
class Profile:
    """The planned motion of one trip: per run (R runs), start/end speeds, cruise speed,
    acceleration, deceleration, the wait before moving off, and phase durations (seconds)."""

    s_nodes: Array
    v0: Array
    v1: Array
    vc: Array
    acc: Array
    dec: Array
    wait: Array
    t1: Array
    t2: Array
    t3: Array
    start: Array
    moving_s: float
    duration_s: int

    @property
    def length_m(self) -> float:
        """Route length in metres."""
        return float(self.s_nodes[-1])


def _nodes(route: Array) -> tuple[Array, Array]:
    """Distances along the route of corners and of the intersections crossed on the way."""
    seg = np.diff(route, axis=0)
    lengths = np.abs(seg).sum(axis=1)
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    crossings = []
    for i, (p, d) in enumerate(zip(route[:-1], seg, strict=True)):
        axis = 0 if abs(d[0]) > abs(d[1]) else 1
        c0, c1 = p[axis], p[axis] + d[axis]
        lo, hi = sorted((c0, c1))
        m = np.arange(np.floor(lo / GRID_M) + 1, np.ceil(hi / GRID_M)) * GRID_M
        m = m[(m > lo + 1.0) & (m < hi - 1.0)]
        crossings.append(cum[i] + np.abs(m - c0))
    return cum[1:-1], np.concatenate(crossings) if crossings else np.zeros(0)


def plan_profile(route: Array, rng: np.random.Generator, base_kmh: float) -> Profile:
    """Plan the speed profile of a trip along ``route`` at a typical cruise of ``base_kmh``."""
    corners, crossings = _nodes(route)
    red_cross = rng.random(crossings.size) < 0.22
    red_corner = rng.random(corners.size) < 0.35
    s_mid = np.concatenate([corners, crossings[red_cross]])
    v_mid = np.concatenate(
        [np.where(red_corner, 0.0, rng.uniform(3.5, 6.5, corners.size)), np.zeros(red_cross.sum())]
    )
    w_mid = np.concatenate(
        [
            np.where(red_corner, rng.uniform(3, 40, corners.size), 0.0),
            rng.uniform(5, 55, red_cross.sum()),
        ]
    )
    order = np.argsort(s_mid, kind="stable")
    length = float(np.abs(np.diff(route, axis=0)).sum())
    s_all = np.concatenate([[0.0], s_mid[order], [length]])
    v_all = np.concatenate([[0.0], v_mid[order], [0.0]])
    w_all = np.concatenate([[rng.uniform(3, 20)], w_mid[order], [0.0]])
    keep = np.ones(s_all.size, dtype=bool)
    keep[1:-1] = (np.diff(s_all[:-1]) > 1.0) & (s_all[1:-1] < length - 1.0)
    s_nodes, v_nodes, w_nodes = s_all[keep], v_all[keep], w_all[keep][:-1]
    return _profile(s_nodes, v_nodes, w_nodes, rng, base_kmh)


def _profile(
    s_nodes: Array, v_nodes: Array, wait: Array, rng: np.random.Generator, base_kmh: float
) -> Profile:
    runs = s_nodes.size - 1
    d = np.maximum(np.diff(s_nodes), 1e-3)
    v0, v1 = v_nodes[:-1], v_nodes[1:]
    acc = rng.uniform(1.0, 2.2, runs)
    dec = rng.uniform(1.3, 2.8, runs)
    vc = np.clip(base_kmh * KMH * rng.uniform(0.85, 1.15, runs), MIN_CRUISE, MAX_CRUISE)
    need = (vc**2 - v0**2) / (2 * acc) + (vc**2 - v1**2) / (2 * dec)
    peak = np.sqrt((2 * acc * dec * d + dec * v0**2 + acc * v1**2) / (acc + dec))
    vc = np.where(need > d, peak, vc)
    vc = np.maximum(vc, np.maximum(v0, v1))
    d1 = (vc**2 - v0**2) / (2 * acc)
    d3 = (vc**2 - v1**2) / (2 * dec)
    d2 = np.maximum(d - d1 - d3, 0.0)
    t1 = (vc - v0) / acc
    t3 = (vc - v1) / dec
    t2 = d2 / np.maximum(vc, 1e-6)
    total = wait + t1 + t2 + t3
    start = np.concatenate([[0.0], np.cumsum(total)[:-1]])
    moving_s = float(total.sum())
    duration = int(np.ceil(moving_s + rng.uniform(2, 10)))
    return Profile(s_nodes, v0, v1, vc, acc, dec, wait, t1, t2, t3, start, moving_s, duration)


def _evaluate(p: Profile, t: Array) -> tuple[Array, Array]:
    """Distance along the route and speed at times ``t`` (seconds from the trip's start)."""
    r = np.clip(np.searchsorted(p.start, t, side="right") - 1, 0, p.start.size - 1)
    tau = t - p.start[r] - p.wait[r]
    v0, vc, acc, dec = p.v0[r], p.vc[r], p.acc[r], p.dec[r]
    t1, t2, t3 = p.t1[r], p.t2[r], p.t3[r]
    ta = np.clip(tau, 0.0, t1)
    tc = np.clip(tau - t1, 0.0, t2)
    td = np.clip(tau - t1 - t2, 0.0, t3)
    s = v0 * ta + 0.5 * acc * ta**2 + vc * tc + vc * td - 0.5 * dec * td**2
    v = np.where(tau < 0, 0.0, np.where(tau < t1, v0 + acc * ta, vc - dec * td))
    v = np.where(tau < 0, 0.0, np.where((tau >= t1) & (tau < t1 + t2), vc, v))
    s = np.minimum(p.s_nodes[r] + s, p.s_nodes[r + 1])
    done = t >= p.moving_s
    return np.where(done, p.s_nodes[-1], s), np.where(done, 0.0, np.maximum(v, 0.0))


def _smooth(a: Array, width: int) -> Array:
    """Centred moving average with edge padding (same length)."""
    k = np.hanning(width + 2)[1:-1]
    k /= k.sum()
    pad = width // 2
    return np.convolve(np.pad(a, (pad, width - 1 - pad), mode="edge"), k, mode="valid")


def render_trip(route: Array, p: Profile, rng: np.random.Generator) -> dict[str, Array]:
    """Evaluate a planned trip at 1 Hz: positions (metres, with lane offset and GPS noise),
    distance, speed, heading, acceleration, pedals and steering wheel angle."""
    t = np.arange(p.duration_s + 1, dtype=np.float64)
    s, v = _evaluate(p, t)
    seg = np.diff(route, axis=0)
    lengths = np.abs(seg).sum(axis=1)
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    i = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, lengths.size - 1)
    unit = seg / lengths[:, None]
    frac = (s - cum[i])[:, None]
    xy = route[i] + frac * unit[i]
    xy += LANE_OFFSET_M * np.column_stack([unit[i, 1], -unit[i, 0]])
    n = t.size
    # GPS error: slowly wandering (about 2.8 m per axis) plus jitter (1 m): ~4 m horizontal.
    noise = np.column_stack([_smooth(rng.normal(0, 9.0, n), 15) for _ in range(2)])
    xy += noise + rng.normal(0, 1.0, (n, 2))
    heading = np.unwrap(np.arctan2(unit[i, 0], unit[i, 1]))
    heading = _smooth(np.degrees(heading), 5)
    turn_rate = np.gradient(heading) if n > 1 else np.zeros(n)
    wobble = 1.0 + 0.09 * _smooth(rng.normal(0, 1.0, n), 9)  # speedometer vs. truth, ~3.5 %
    speed = v * wobble
    accel = (np.gradient(v) if n > 1 else np.zeros(n)) + rng.normal(0, 0.04, n)
    moving = v > 0.3
    cruise_pedal = 6 + 0.45 * v / KMH
    accel_pedal = np.where(moving & (accel > -0.15), cruise_pedal + 14 * np.maximum(accel, 0), 0.0)
    brake = np.where(accel < -0.25, 6 + 11 * -accel, 0.0)
    brake = np.where(moving, brake, 22.0 + rng.normal(0, 2.0, n))
    steering = -9.0 * turn_rate + rng.normal(0, 1.2, n)
    return {
        "t": t,
        "x": xy[:, 0],
        "y": xy[:, 1],
        "s": s,
        "speed_kmh": np.round(speed / KMH, 1),
        "heading": np.round(np.mod(heading + rng.normal(0, 0.6, n), 360.0), 1),
        "accel_mps2": np.round(accel, 2),
        "accel_pedal": np.round(np.clip(accel_pedal + rng.normal(0, 0.8, n) * moving, 0, 100), 1),
        "brake_pedal": np.round(np.clip(brake, 0, 100), 1),
        "steering_angle": np.round(np.clip(steering, -540, 540), 1),
    }
