"""The telemetry looks like real driving: 1 Hz, plausible speeds, battery, GPS, ignition."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from demo_support import path

from onshore.demo import DemoSummary
from onshore.demo.grid import LAT0, LAT1, LON0, LON1


def _trips(t: pa.Table) -> np.ndarray:
    """Trip number of every row: a new trip after each ignition-off row."""
    off = ~t["ignition"].to_numpy(zero_copy_only=False)
    return np.concatenate([[0], np.cumsum(off[:-1])])


def test_sorted_and_one_hertz(telemetry: pa.Table) -> None:
    vin = telemetry["vin"].to_numpy(zero_copy_only=False)
    ts = telemetry["ts"].cast(pa.int64()).to_numpy()
    assert (vin[1:] >= vin[:-1]).all()
    same = vin[1:] == vin[:-1]
    assert (np.diff(ts)[same] > 0).all()
    trip = _trips(telemetry)
    within = trip[1:] == trip[:-1]
    assert (np.diff(ts)[within] == 1000).all()
    assert (np.diff(ts)[same & ~within] > 60_000).all()  # parked between trips


def test_trip_shape(telemetry: pa.Table, demo: DemoSummary) -> None:
    trip = _trips(telemetry)
    assert trip[-1] + 1 == demo.trips
    ign = telemetry["ignition"].to_numpy(zero_copy_only=False)
    assert (~ign).sum() == demo.trips
    per_car = telemetry.num_rows / demo.vehicles
    assert 1500 <= per_car <= 9000, per_car  # about an hour of driving a day
    speed = telemetry["speed_kmh"].to_numpy()
    starts = np.flatnonzero(np.diff(np.concatenate([[-1], trip])) != 0)
    assert (speed[starts] == 0).all() and (speed[~ign] == 0).all()


def test_plausible_speeds_and_signals(telemetry: pa.Table) -> None:
    speed = telemetry["speed_kmh"].to_numpy()
    assert speed.min() >= 0 and speed.max() < 150
    moving = speed[speed > 5]
    assert 25 < moving.mean() < 60 and np.percentile(moving, 90) < 80
    accel = telemetry["accel_mps2"].to_numpy()
    assert np.abs(accel).max() < 5
    for col in ("accel_pedal", "brake_pedal"):
        v = telemetry[col].to_numpy()
        assert v.min() >= 0 and v.max() <= 100
    heading = telemetry["heading"].to_numpy()
    assert heading.min() >= 0 and heading.max() <= 360
    assert np.abs(telemetry["steering_angle"].to_numpy()).max() > 45  # cars do turn


def test_positions_in_area_with_some_dropouts(telemetry: pa.Table) -> None:
    lat, lon = telemetry["lat"], telemetry["lon"]
    assert lat.null_count == lon.null_count
    assert lat.null_count / telemetry.num_rows < 0.01
    assert pc.min(lat).as_py() > LAT0 and pc.max(lat).as_py() < LAT1
    assert pc.min(lon).as_py() > LON0 and pc.max(lon).as_py() < LON1


def test_gps_speed_matches_speedometer(telemetry: pa.Table) -> None:
    lat = telemetry["lat"].to_numpy(zero_copy_only=False)
    lon = telemetry["lon"].to_numpy(zero_copy_only=False)
    step = np.hypot(np.diff(lon) * 85_400, np.diff(lat) * 111_030) * 3.6
    speed = telemetry["speed_kmh"].to_numpy()[1:]
    ok = np.isfinite(step) & (_trips(telemetry)[1:] == _trips(telemetry)[:-1])
    assert abs(np.median(step[ok] - speed[ok])) < 3
    assert np.corrcoef(step[ok], speed[ok])[0, 1] > 0.8


def test_soc_and_odometer_follow_driving_and_charging(demo_week: DemoSummary) -> None:
    t = pq.read_table(path(demo_week, "telemetry.parquet"))
    s = pq.read_table(path(demo_week, "charging_sessions.parquet"))
    assert s.num_rows > 0
    vin = t["vin"].to_numpy(zero_copy_only=False)
    ts = t["ts"].cast(pa.int64()).to_numpy()
    soc = t["soc"].to_numpy()
    odo = t["odometer_km"].to_numpy()
    same = vin[1:] == vin[:-1]
    assert (np.diff(odo)[same] >= 0).all()
    rises = same & (np.diff(soc) > 0.5)
    assert rises.sum() == s.num_rows  # SOC only rises across a charging session
    for row in s.to_pylist():
        car = vin == row["vin"]
        start = int(row["session_start"].timestamp() * 1000)
        end = int(row["session_end"].timestamp() * 1000)
        before = np.flatnonzero(car & (ts <= start))[-1]
        after = np.flatnonzero(car & (ts >= end))[0]
        assert abs(soc[before] - row["start_soc"]) < 0.2
        assert abs(soc[after] - row["end_soc"]) < 0.2
        assert row["end_soc"] > row["start_soc"] and row["energy_kwh"] > 0


def test_week_has_weekend_outings(demo_week: DemoSummary) -> None:
    t = pq.read_table(path(demo_week, "telemetry.parquet"), columns=["ts"])
    local = pc.add(t["ts"].cast(pa.int64()), 8 * 3600 * 1000)
    day = pc.divide(local, 86_400_000).to_numpy() - pc.divide(local, 86_400_000).to_numpy().min()
    assert set(np.unique(day)) >= set(range(7))
