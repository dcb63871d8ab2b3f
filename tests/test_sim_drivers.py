"""The headless sim drivers: kinematics limits, halting, stage stopwatches (no ROS needed)."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pytest

from orchestrator.config import RestaurantConfig
from robot_nodes.drivers import DriverError, make_cooking_driver, make_serving_driver, sim
from robot_nodes.drivers.base import MotionDriver
from robot_nodes.drivers.sim import SimCookingDriver, SimMotionDriver

DT = 0.02


def _drive(driver: SimMotionDriver, t: float, seconds: float) -> float:
    end = t + seconds
    while t < end:
        t += DT
        driver.tick(t)
    return t


def test_follows_the_path_within_speed_and_acceleration(demo_config: RestaurantConfig) -> None:
    robot = demo_config.serving_robots[0]
    driver = SimMotionDriver(None, robot, 1.0, (0.0, 0.0, 0.0))
    driver.set_path([(0.0, 0.0), (4.0, 0.0), (4.0, 3.0)])
    assert driver.remaining_m() == pytest.approx(7.0)
    t, last_speed, last_remaining = 0.0, 0.0, 7.0
    driver.tick(t)
    while not driver.done:
        t += DT
        driver.tick(t)
        assert driver.speed <= robot.speed_mps + 1e-9
        # On the arrival step it stops on the point from a crawl of at most two steps' braking.
        limit = (2 if driver.done else 1) * robot.max_accel_mps2 * DT
        assert abs(driver.speed - last_speed) <= limit + 1e-9
        assert driver.remaining_m() <= last_remaining + 1e-9
        last_speed, last_remaining = driver.speed, driver.remaining_m()
        assert t < 30, 'never arrived'
    assert driver.pose[:2] == pytest.approx((4.0, 3.0))
    assert driver.pose[2] == pytest.approx(math.pi / 2)
    # 7 m at 1 m/s with 0.5 m/s² ramps: 2 s up, 5 s cruise, 2 s down.
    assert t == pytest.approx(9.0, abs=0.3)


def test_time_scale_speeds_it_up(demo_config: RestaurantConfig) -> None:
    driver = SimMotionDriver(None, demo_config.serving_robots[0], 10.0, (0, 0, 0))
    driver.set_path([(0.0, 0.0), (7.0, 0.0)])
    t = 0.0
    driver.tick(t)
    while not driver.done:
        t += DT
        driver.tick(t)
    assert t == pytest.approx(0.9, abs=0.1)


def test_halt_brakes_and_holds_until_resumed(demo_config: RestaurantConfig) -> None:
    robot = demo_config.serving_robots[0]
    driver = SimMotionDriver(None, robot, 1.0, (0.0, 0.0, 0.0))
    driver.set_path([(0.0, 0.0), (20.0, 0.0)])
    driver.tick(0.0)
    t = _drive(driver, 0.0, 3.0)
    driver.halt()
    t = _drive(driver, t, robot.speed_mps / robot.max_accel_mps2 + 0.1)
    held = driver.pose
    assert driver.speed == 0.0 and not driver.done
    t = _drive(driver, t, 1.0)
    assert driver.pose == held
    driver.set_path([(held[0], held[1]), (20.0, 0.0)])
    t = _drive(driver, t, 1.0)
    assert driver.pose == held, 'a new path does not lift a halt'
    driver.resume()
    _drive(driver, t, 1.0)
    assert driver.pose[0] > held[0]


def test_a_standing_robot_sets_off_when_it_gets_its_path(
    demo_config: RestaurantConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At 60x a tick (20 Hz) is 3 simulated s. On Harbor runner2 waited on dock2 for junction
    # n21, which runner1 freed on reaching dock1; the grant came between two of runner2's
    # ticks and, integrated from the last one, runner2 set off up to 3 s before it was
    # granted: the floor monitor saw it meet runner1 at n21.
    robot = demo_config.serving_robots[0]
    clock = [0.0]
    monkeypatch.setattr(sim, 'time', SimpleNamespace(monotonic=lambda: clock[0]))
    driver = SimMotionDriver(None, robot, 60.0, (0.0, 0.0, 0.0))
    shared: list[tuple[float, float]] = []
    monkeypatch.setattr(driver, 'share_pose', lambda: shared.append(driver.pose[:2]))
    driver.tick(0.0)
    clock[0] = 0.04
    driver.set_path([(0.0, 0.0), (10.0, 0.0)])
    # Standing where it was when it got the path: the others date its start from this.
    assert shared[-1] == (0.0, 0.0)
    driver.tick(0.05)
    # 0.01 s at 60x since it set off: from rest, one step at the acceleration limit.
    assert 0.0 < driver.pose[0] <= robot.max_accel_mps2 * 0.6**2 + 1e-9


def test_cooking_stopwatch_freezes_while_halted() -> None:
    driver = SimCookingDriver(None, 1.0)
    driver.start('j1', 'prep', 2.0, 0.0)
    driver.tick(0.0)
    driver.tick(1.0)
    assert driver.progress('j1') == pytest.approx(0.5)
    driver.halt()
    driver.tick(5.0)
    assert driver.progress('j1') == pytest.approx(0.5)
    driver.resume()
    driver.tick(6.0)
    assert driver.progress('j1') == 1.0
    driver.abort('j1')
    assert driver.progress('j1') == 0.0


def test_a_dish_takes_its_cook_time_whatever_the_tick() -> None:
    # Three stages of 0.15, 0.5 and 0.12 s, looked at every 0.1 s as the node does: a stage
    # that ended between two looks hands its overrun to the next, and the node is told when
    # the current stage ends (it looks then rather than at its next tick).
    driver, stages = SimCookingDriver(None, 60.0), [0.15, 0.5, 0.12]
    driver.start('j1', 'prep', stages[0], 0.0)
    driver.tick(0.0)
    assert driver.ends_in('j1', 0.05) == pytest.approx(0.1)
    t, stage = 0.0, 0
    while True:
        t = round(t + 0.1, 6)
        driver.tick(t)
        if driver.progress('j1') < 1.0:
            continue
        stage += 1
        if stage == len(stages):
            break
        driver.start('j1', 'next', stages[stage], t)
        assert driver.ends_in('j1', t) == pytest.approx(sum(stages[: stage + 1]) - t)
    assert t == pytest.approx(0.8)  # the first look after 0.77 s, not a tick per stage later
    # A job started between two ticks counts from its start, not from the last tick.
    driver.start('j2', 'prep', 0.1, t + 0.04)
    assert driver.progress('j2') == 0.0
    driver.tick(t + 0.1)
    assert driver.progress('j2') == pytest.approx(0.6)
    assert driver.ends_in('j2', t + 0.1) == pytest.approx(0.04)


def test_registry_explains_the_hardware_seam(demo_config: RestaurantConfig) -> None:
    robot = demo_config.serving_robots[0]
    with pytest.raises(DriverError, match='MotionDriver'):
        make_serving_driver('hardware', None, robot, 1.0, (0, 0, 0))
    with pytest.raises(DriverError, match='CookingDriver'):
        make_cooking_driver('hardware', None, 1.0)
    with pytest.raises(DriverError, match='unknown'):
        make_serving_driver('warp', None, robot, 1.0, (0, 0, 0))


class OwnFryer(SimCookingDriver):
    """An integrator's cooking driver, in a module of its own (here: this one)."""


class OwnBase(SimMotionDriver):
    """An integrator's motion driver."""


def test_registry_builds_a_driver_named_by_import_path(demo_config: RestaurantConfig) -> None:
    # A robot's own driver is named `package.module:Class`: no change to robodine's registry.
    robot = demo_config.serving_robots[0]
    cooking = make_cooking_driver(f'{__name__}:OwnFryer', None, 2.0)
    assert isinstance(cooking, OwnFryer) and cooking.time_scale == 2.0
    motion = make_serving_driver(f'{__name__}:OwnBase', None, robot, 3.0, (1.0, 2.0, 0.0))
    assert isinstance(motion, OwnBase) and motion.pose == (1.0, 2.0, 0.0)


@pytest.mark.parametrize(
    ('name', 'reason'),
    [
        ('no_such_module_x:Fryer', "cannot import 'no_such_module_x'"),
        (f'{__name__}:Missing', "has no 'Missing'"),
        (f'{__name__}:OwnBase', 'not a subclass of robot_nodes.drivers.base.CookingDriver'),
        (f'{__name__}:test_registry_explains_the_hardware_seam', 'not a subclass'),
    ],
)
def test_registry_says_why_an_import_path_is_no_driver(name: str, reason: str) -> None:
    with pytest.raises(DriverError, match=re.escape(reason)):
        make_cooking_driver(name, None, 1.0)


def test_motion_driver_named_by_path_must_be_one(demo_config: RestaurantConfig) -> None:
    robot = demo_config.serving_robots[0]
    with pytest.raises(DriverError, match=MotionDriver.__name__):
        make_serving_driver(f'{__name__}:OwnFryer', None, robot, 1.0, (0, 0, 0))
