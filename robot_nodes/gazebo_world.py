"""Gazebo (gz sim Harmonic) assets from the restaurant config: an SDF world and a bridge config.

`robodine gazebo world --config seeds/restaurant.yaml --out DIR` writes
- `DIR/<restaurant id>.sdf`: SDF 1.9 world — floor, walls, tables, the pass and the docks as
  floor markings, and one serving robot per config entry standing on its dock. Each robot is a
  two-wheeled base with the footprint radius of its config and carries the DiffDrive system
  (commands on `/model/<id>/cmd_vel`, speed and acceleration limited like the config) and the
  OdometryPublisher system (`/model/<id>/odometry`, frame `<id>/odom`, child `<id>/base_link`).
- `DIR/ros_gz_bridge.yaml`: ros_gz_bridge `config_file` mapping those to the robots' ROS topics
  `/robodine/<id>/cmd_vel` and `/robodine/<id>/odom` — the same names and types the headless
  floor plant serves, so the `diffdrive` driver runs unchanged on either.

The world's origin is the floor's corner (0, 0), so Gazebo and the floor graph share one frame.
"""

from __future__ import annotations

import argparse
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from orchestrator.config import RestaurantConfig, ServingRobot, load_restaurant
from robot_nodes.floor_world import dock_pose

SDF_VERSION = '1.9'
WALL_THICKNESS_M = 0.1
WALL_HEIGHT_M = 1.2
TABLE_HEIGHT_M = 0.75
WHEEL_RADIUS_M = 0.08
WHEEL_WIDTH_M = 0.04
BODY_HEIGHT_M = 0.9
ODOM_HZ = 50


def _el(parent: ET.Element, tag: str, text: object = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = str(text)
    return el


def _num(v: float) -> str:
    return f'{v:.4f}'.rstrip('0').rstrip('.') if v != 0 else '0'


def _pose(
    x: float = 0, y: float = 0, z: float = 0, roll: float = 0, pitch: float = 0, yaw: float = 0
) -> str:
    return ' '.join(_num(v) for v in (x, y, z, roll, pitch, yaw))


def _box(parent: ET.Element, sx: float, sy: float, sz: float) -> None:
    _el(_el(parent, 'geometry'), 'box').append(_size(sx, sy, sz))


def _size(*dims: float) -> ET.Element:
    el = ET.Element('size')
    el.text = ' '.join(_num(d) for d in dims)
    return el


def _cylinder(parent: ET.Element, radius: float, length: float) -> None:
    cyl = _el(_el(parent, 'geometry'), 'cylinder')
    _el(cyl, 'radius', _num(radius))
    _el(cyl, 'length', _num(length))


def _material(visual: ET.Element, rgb: tuple[float, float, float]) -> None:
    mat = _el(visual, 'material')
    colour = ' '.join(_num(c) for c in rgb) + ' 1'
    _el(mat, 'ambient', colour)
    _el(mat, 'diffuse', colour)


def _inertial(link: ET.Element, mass: float, ixx: float, iyy: float, izz: float) -> None:
    inertial = _el(link, 'inertial')
    _el(inertial, 'mass', _num(mass))
    inertia = _el(inertial, 'inertia')
    for name, value in (('ixx', ixx), ('iyy', iyy), ('izz', izz)):
        _el(inertia, name, _num(value))
    for name in ('ixy', 'ixz', 'iyz'):
        _el(inertia, name, '0')


def _solid(
    link: ET.Element, name: str, shape, rgb: tuple[float, float, float], pose: str | None = None
) -> None:
    """A collision and a visual of the same shape."""
    for kind in ('collision', 'visual'):
        el = _el(link, kind, name=f'{name}_{kind}')
        if pose:
            _el(el, 'pose', pose)
        shape(el)
        if kind == 'visual':
            _material(el, rgb)


def _marking(
    world: ET.Element,
    name: str,
    x: float,
    y: float,
    radius: float,
    rgb: tuple[float, float, float],
) -> None:
    """A flat coloured disc on the floor, visual only (robots drive over it)."""
    model = _el(world, 'model', name=name)
    _el(model, 'static', 'true')
    _el(model, 'pose', _pose(x, y, 0.002))
    visual = _el(_el(model, 'link', name='link'), 'visual', name='visual')
    _cylinder(visual, radius, 0.004)
    _material(visual, rgb)


def _static_box(
    world: ET.Element,
    name: str,
    pose: str,
    size: tuple[float, float, float],
    rgb: tuple[float, float, float],
) -> None:
    model = _el(world, 'model', name=name)
    _el(model, 'static', 'true')
    _el(model, 'pose', pose)
    link = _el(model, 'link', name='link')
    _solid(link, 'body', lambda el: _box(el, *size), rgb)


def _scene(world: ET.Element, cfg: RestaurantConfig) -> None:
    physics = _el(world, 'physics', name='1ms', type='ignored')
    _el(physics, 'max_step_size', '0.001')
    _el(physics, 'real_time_factor', '1.0')
    for filename, name in (
        ('physics', 'Physics'),
        ('user-commands', 'UserCommands'),
        ('scene-broadcaster', 'SceneBroadcaster'),
    ):
        _el(
            world, 'plugin', filename=f'gz-sim-{filename}-system', name=f'gz::sim::systems::{name}'
        )
    light = _el(world, 'light', type='directional', name='sun')
    _el(light, 'cast_shadows', 'true')
    _el(light, 'pose', _pose(0, 0, 10))
    _el(light, 'diffuse', '0.8 0.8 0.8 1')
    _el(light, 'direction', '-0.5 0.1 -0.9')
    floor = cfg.floor
    model = _el(world, 'model', name='floor')
    _el(model, 'static', 'true')
    _el(model, 'pose', _pose(floor.width_m / 2, floor.depth_m / 2, 0))
    link = _el(model, 'link', name='link')
    for kind in ('collision', 'visual'):
        el = _el(link, kind, name=kind)
        plane = _el(_el(el, 'geometry'), 'plane')
        _el(plane, 'normal', '0 0 1')
        plane.append(_size(floor.width_m, floor.depth_m))
        if kind == 'visual':
            _material(el, (0.85, 0.82, 0.75))


def _furniture(world: ET.Element, cfg: RestaurantConfig) -> None:
    floor = cfg.floor
    for i, w in enumerate(floor.walls):
        length = math.hypot(w.x2 - w.x1, w.y2 - w.y1)
        yaw = math.atan2(w.y2 - w.y1, w.x2 - w.x1)
        pose = _pose((w.x1 + w.x2) / 2, (w.y1 + w.y2) / 2, WALL_HEIGHT_M / 2, yaw=yaw)
        _static_box(
            world,
            f'wall_{i}',
            pose,
            (length + WALL_THICKNESS_M, WALL_THICKNESS_M, WALL_HEIGHT_M),
            (0.6, 0.6, 0.62),
        )
    edge = floor.table_size_m
    for t in cfg.tables:
        _static_box(
            world,
            f'table_{t.id}',
            _pose(t.x, t.y, TABLE_HEIGHT_M / 2),
            (edge, edge, TABLE_HEIGHT_M),
            (0.55, 0.35, 0.2),
        )
    _marking(world, 'pass_marker', floor.pass_point.x, floor.pass_point.y, 0.4, (0.9, 0.6, 0.1))
    for point in floor.waypoints:
        if point.kind in ('dock', 'charger'):
            _marking(world, f'{point.kind}_{point.id}', point.x, point.y, 0.35, (0.2, 0.5, 0.9))


def _wheel(model: ET.Element, side: str, y: float) -> None:
    link = _el(model, 'link', name=f'{side}_wheel')
    _el(link, 'pose', _pose(0, y, WHEEL_RADIUS_M, roll=-math.pi / 2))
    _inertial(link, 1.0, 0.002, 0.002, 0.003)
    _solid(link, side, lambda el: _cylinder(el, WHEEL_RADIUS_M, WHEEL_WIDTH_M), (0.1, 0.1, 0.1))
    joint = _el(model, 'joint', name=f'{side}_wheel_joint', type='revolute')
    _el(joint, 'parent', 'base_link')
    _el(joint, 'child', f'{side}_wheel')
    axis = _el(joint, 'axis')
    _el(axis, 'xyz', '0 1 0', expressed_in='__model__')
    limit = _el(axis, 'limit')
    _el(limit, 'lower', '-1.79769e+308')
    _el(limit, 'upper', '1.79769e+308')


def _serving_robot(world: ET.Element, cfg: RestaurantConfig, robot: ServingRobot) -> None:
    x, y, theta = dock_pose(cfg, robot)
    r = robot.radius_m
    model = _el(world, 'model', name=robot.id)
    _el(model, 'pose', _pose(x, y, 0, yaw=theta))
    base = _el(model, 'link', name='base_link')
    _inertial(base, 25.0, 1.5, 1.5, 0.9)
    body_z = WHEEL_RADIUS_M + BODY_HEIGHT_M / 2
    _solid(
        base,
        'body',
        lambda el: _cylinder(el, r, BODY_HEIGHT_M),
        (0.95, 0.95, 0.95),
        _pose(z=body_z),
    )
    # Front and rear casters: frictionless spheres that keep the base level.
    caster_r = WHEEL_RADIUS_M / 2
    for name, cx in (('front', r * 0.7), ('rear', -r * 0.7)):
        caster = _el(base, 'collision', name=f'{name}_caster')
        _el(caster, 'pose', _pose(cx, 0, caster_r))
        sphere = _el(_el(caster, 'geometry'), 'sphere')
        _el(sphere, 'radius', _num(caster_r))
        ode = _el(_el(_el(caster, 'surface'), 'friction'), 'ode')
        _el(ode, 'mu', '0')
        _el(ode, 'mu2', '0')
    separation = 2 * (r - WHEEL_WIDTH_M)
    _wheel(model, 'left', separation / 2)
    _wheel(model, 'right', -separation / 2)
    drive = _el(
        model, 'plugin', filename='gz-sim-diff-drive-system', name='gz::sim::systems::DiffDrive'
    )
    for tag, value in (
        ('left_joint', 'left_wheel_joint'),
        ('right_joint', 'right_wheel_joint'),
        ('wheel_separation', _num(separation)),
        ('wheel_radius', _num(WHEEL_RADIUS_M)),
        ('max_linear_acceleration', _num(robot.max_accel_mps2)),
        ('min_linear_acceleration', _num(-robot.max_accel_mps2)),
        ('max_linear_velocity', _num(robot.speed_mps)),
        ('min_linear_velocity', _num(-robot.speed_mps)),
        ('topic', f'/model/{robot.id}/cmd_vel'),
        # Wheel odometry stays inside Gazebo; the bridge carries OdometryPublisher's.
        ('odom_topic', f'/model/{robot.id}/wheel_odometry'),
        ('tf_topic', f'/model/{robot.id}/wheel_tf'),
        ('frame_id', f'{robot.id}/odom'),
        ('child_frame_id', f'{robot.id}/base_link'),
        ('odom_publish_frequency', str(ODOM_HZ)),
    ):
        _el(drive, tag, value)
    odom = _el(
        model,
        'plugin',
        filename='gz-sim-odometry-publisher-system',
        name='gz::sim::systems::OdometryPublisher',
    )
    for tag, value in (
        ('odom_frame', f'{robot.id}/odom'),
        ('robot_base_frame', f'{robot.id}/base_link'),
        ('odom_topic', f'/model/{robot.id}/odometry'),
        ('odom_publish_frequency', str(ODOM_HZ)),
        ('dimensions', '2'),
    ):
        _el(odom, tag, value)


def world_sdf(cfg: RestaurantConfig) -> str:
    """The restaurant as an SDF world document."""
    root = ET.Element('sdf', version=SDF_VERSION)
    world = _el(root, 'world', name=cfg.restaurant.id)
    _scene(world, cfg)
    _furniture(world, cfg)
    for robot in cfg.serving_robots:
        _serving_robot(world, cfg, robot)
    ET.indent(root)
    return "<?xml version='1.0'?>\n" + ET.tostring(root, encoding='unicode') + '\n'


def bridge_config(cfg: RestaurantConfig) -> list[dict[str, str]]:
    """ros_gz_bridge entries: each robot's cmd_vel into Gazebo, its odometry out."""
    entries = []
    for robot in cfg.serving_robots:
        entries += [
            {
                'ros_topic_name': f'/robodine/{robot.id}/cmd_vel',
                'gz_topic_name': f'/model/{robot.id}/cmd_vel',
                'ros_type_name': 'geometry_msgs/msg/Twist',
                'gz_type_name': 'gz.msgs.Twist',
                'direction': 'ROS_TO_GZ',
            },
            {
                'ros_topic_name': f'/robodine/{robot.id}/odom',
                'gz_topic_name': f'/model/{robot.id}/odometry',
                'ros_type_name': 'nav_msgs/msg/Odometry',
                'gz_type_name': 'gz.msgs.Odometry',
                'direction': 'GZ_TO_ROS',
            },
        ]
    return entries


def write_assets(cfg: RestaurantConfig, out: Path) -> tuple[Path, Path]:
    """Write the world and the bridge config into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    world = out / f'{cfg.restaurant.id}.sdf'
    world.write_text(world_sdf(cfg), encoding='utf-8')
    bridge = out / 'ros_gz_bridge.yaml'
    header = f'# ros_gz_bridge config_file for {world.name}; generated by robodine gazebo world.\n'
    bridge.write_text(
        header + yaml.safe_dump(bridge_config(cfg), sort_keys=False), encoding='utf-8'
    )
    return world, bridge


def gazebo_command(args: argparse.Namespace) -> int:
    world, bridge = write_assets(load_restaurant(args.config), args.out)
    print(
        f'wrote {world} and {bridge}\n'
        f'run: ros2 launch launch/gazebo.launch.py config:={args.config}'
    )
    return 0
