"""`robodine` command line: one sub-command per way of running a part of the restaurant.

Each handler lives next to what it runs and is imported only when its command is chosen, so
`robodine config check` and `robodine --help` never load ROS 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError
from pydantic_settings import SettingsError

from orchestrator.config import ConfigError, PolicyName, load_restaurant
from orchestrator.settings import MAX_TIME_SCALE, get_settings, settings_errors

# command -> 'module:function'; the function takes the parsed argparse.Namespace, returns an
# exit code.
HANDLERS = {
    'serve': 'orchestrator.api.serve:serve_command',
    'up': 'orchestrator.bringup:up_command',
    'dispatcher': 'orchestrator.dispatch.service:dispatcher_command',
    'qr': 'table_qr.sheet:qr_command',
    'keys': 'table_qr.keys:keys_command',
    'config': 'orchestrator.cli:config_check_command',
    'operator': 'orchestrator.console.accounts:operator_command',
    'rush': 'orchestrator.rush.runner:rush_command',
    'gazebo': 'robot_nodes.gazebo_world:gazebo_command',
    'retention': 'orchestrator.retention:retention_command',
    'robots': 'robot_nodes.auth:robots_command',
    'archive': 'orchestrator.archive.service:archive_command',
    'report': 'orchestrator.reports.command:report_command',
}


def time_scale(text: str) -> float:
    """A --time-scale within what ROBODINE_TIME_SCALE accepts (`up`'s children read it from
    there): refused here, not as a child that dies or a clock that runs backwards."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a number: {text!r}') from None
    if not 0 < value <= MAX_TIME_SCALE:
        raise argparse.ArgumentTypeError(
            f'must be more than 0 and at most {MAX_TIME_SCALE:g}, not {text}'
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    """Every default comes from the settings (`ROBODINE_*` environment or `.env`)."""
    settings = get_settings()
    p = argparse.ArgumentParser(prog='robodine', description=__doc__)
    sub = p.add_subparsers(dest='command', required=True, metavar='COMMAND')

    def config_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            '--config',
            type=Path,
            default=settings.config_path,
            help=f'restaurant YAML (default: ROBODINE_CONFIG_PATH, {settings.config_path})',
        )

    def redis_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            '--redis-url',
            default=settings.redis_url,
            help=f'default: ROBODINE_REDIS_URL, {settings.redis_url}',
        )

    def time_scale_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            '--time-scale',
            type=time_scale,
            default=settings.time_scale,
            help='speeds up cooking, driving and pickup waits (1 = real time; default: '
            f'ROBODINE_TIME_SCALE, {settings.time_scale:g})',
        )

    def demo_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            '--demo',
            action='store_true',
            default=settings.demo,
            help='allow the demo table key published with robodine (default: ROBODINE_DEMO)',
        )

    def policy_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            '--policy',
            choices=get_args(PolicyName),
            default=settings.policy,
            help='which dish starts on which cooking robot (default: ROBODINE_POLICY, else the '
            "config's service.policy)",
        )

    def traffic_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            '--traffic',
            action=argparse.BooleanOptionalAction,
            default=settings.traffic_control,
            help='serving robots ask the traffic controller before narrow aisles and junctions '
            "(default: ROBODINE_TRAFFIC_CONTROL, else the config's service.traffic_control)",
        )

    def driver_arg(
        sp: argparse.ArgumentParser, help: str, choices: tuple[str, ...] = ('sim', 'diffdrive')
    ) -> None:
        sp.add_argument('--driver', choices=choices, default='sim', help=help)

    s = sub.add_parser('serve', help='run the orchestrator API against a given Redis')
    config_arg(s)
    redis_arg(s)
    s.add_argument('--host', default='127.0.0.1')
    s.add_argument('--port', type=int, default=8000)
    s.add_argument(
        '--with-dispatcher',
        action='store_true',
        help='also run the dispatcher (needs ROS 2) inside this process',
    )
    s.add_argument(
        '--reuse-port',
        action='store_true',
        help='share the port with other `serve` processes (SO_REUSEPORT: the kernel spreads '
        'the connections)',
    )
    demo_arg(s)

    s = sub.add_parser('up', help='the whole restaurant: Redis, orchestrator, robots')
    config_arg(s)
    s.add_argument(
        '--redis-url', default=None, help='use this Redis instead of starting one of its own'
    )
    s.add_argument('--host', default='127.0.0.1')
    s.add_argument('--port', type=int, default=8000)
    time_scale_arg(s)
    driver_arg(
        s,
        'serving-robot driver; diffdrive also starts the headless floor plant; nav2 sends each '
        "robot's goals to its own Nav2 (/robodine/<id>/navigate_to_pose), which you start",
        ('sim', 'diffdrive', 'nav2'),
    )
    policy_arg(s)
    traffic_arg(s)
    s.add_argument(
        '--data-dir',
        type=Path,
        default=settings.data_dir,
        help='where Redis AOF, robot ledgers, logs and the archive live (default: '
        f'ROBODINE_DATA_DIR, {settings.data_dir})',
    )
    s.add_argument(
        '--api-workers',
        type=int,
        default=1,
        help='API processes sharing the port (default 1)',
    )
    s.add_argument(
        '--dispatchers',
        type=int,
        default=0,
        help='dispatcher processes of their own (default 0: one inside each API process)',
    )
    s.add_argument(
        '--external',
        default='',
        metavar='ROBOTS',
        help='robot ids (comma-separated) that run elsewhere, e.g. a real robot: not started '
        'here; the command that starts each is printed',
    )

    s = sub.add_parser('dispatcher', help='run the dispatcher alone (ROS 2 + Redis)')
    config_arg(s)
    redis_arg(s)
    s.add_argument('--name', default=None, help='consumer name (default: host-pid)')
    time_scale_arg(s)

    s = sub.add_parser('qr', help='write table QR codes, a printable sheet and tables.csv')
    config_arg(s)
    base_set = 'base_url' in settings.model_fields_set  # the demo's default is no public base
    s.add_argument(
        '--base-url',
        required=not base_set,
        default=settings.base_url if base_set else None,
        help='public base URL, e.g. https://dine.example (default: ROBODINE_BASE_URL)',
    )
    s.add_argument('--out', type=Path, required=True, help='output directory')
    demo_arg(s)

    s = sub.add_parser('keys', help='table keys (ROBODINE_TABLE_KEYS)')
    ks = s.add_subparsers(dest='keys_command', required=True, metavar='ACTION')
    k = ks.add_parser('new', help='print a new ROBODINE_TABLE_KEYS value (JSON)')
    k.add_argument(
        '--rotate',
        action='store_true',
        help='put a new key first and keep the current ones (codes already printed still work)',
    )

    s = sub.add_parser('robots', help="the robots' ROS 2 keys")
    rs = s.add_subparsers(dest='robots_command', required=True, metavar='ACTION')
    k = rs.add_parser('keys', help='create a key for every robot of the config that has none')
    config_arg(k)
    k.add_argument(
        '--key-dir',
        type=Path,
        default=settings.robot_key_dir,
        help=f'default: ROBODINE_ROBOT_KEY_DIR, {settings.robot_key_dir}',
    )

    s = sub.add_parser('config', help='check a restaurant config')
    cs = s.add_subparsers(dest='config_command', required=True, metavar='ACTION')
    c = cs.add_parser('check', help='validate a restaurant YAML and say what is wrong')
    c.add_argument('path', type=Path)

    s = sub.add_parser('operator', help='manage console operator accounts')
    os_ = s.add_subparsers(dest='operator_command', required=True, metavar='ACTION')
    o = os_.add_parser('add', help='add or update an operator (password from prompt or stdin)')
    o.add_argument('name')
    o.add_argument('--role', choices=['operator', 'manager'], default='operator')
    redis_arg(o)
    o.add_argument('--password-stdin', action='store_true')

    s = sub.add_parser(
        'retention', help='trim finished records older than N days; compact robot ledgers'
    )
    redis_arg(s)
    s.add_argument(
        '--days',
        type=float,
        default=settings.retention_days,
        help=f'default: ROBODINE_RETENTION_DAYS, {settings.retention_days:g}',
    )
    s.add_argument(
        '--ledger-dir', type=Path, default=None, help="the robots' ledgers (e.g. var/ledger)"
    )

    kitchen_data_commands(sub, config_arg, redis_arg)

    s = sub.add_parser('rush', help='accelerated rush-hour simulation with a service report')
    config_arg(s)
    s.add_argument('--scenario', type=Path, required=True)
    s.add_argument('--speed', type=float, default=60.0, help='time scale for robots and diners')
    s.add_argument(
        '--report',
        type=Path,
        help='where to write the JSON report (required for a real rush; optional with --model)',
    )
    s.add_argument(
        '--data-dir',
        type=Path,
        default=None,
        help='empty directory for Redis, ledgers and logs (default: a new temp dir)',
    )
    driver_arg(s, 'serving-robot driver; diffdrive adds the floor plant')
    policy_arg(s)
    traffic_arg(s)
    s.add_argument(
        '--model',
        action='store_true',
        help='play the offline twin instead (no Redis, no ROS; seconds for many seeds) and '
        'print the policy against fifo (every policy without --policy)',
    )
    s.add_argument('--seeds', type=int, default=20, help='with --model: seeds 1..N')
    s.add_argument(
        '--serving-robots',
        metavar='SIZES',
        help='with --model: how many serving robots carry the service: the fleet sizes to '
        "try ('1-4', '2,3'), each the config's first robots or more like its last one on "
        'spare docks; the largest the floor has docks for is played too. Without --model: '
        'the real rush with that many (one size)',
    )
    s.add_argument(
        '--without',
        metavar='ROBOTS',
        help="robots down, cooking or serving ('wok2' or 'wok2,serve3'): with --model, the "
        'service with and without them (with --serving-robots, sized without them); without '
        '--model, the real rush without them',
    )
    s.add_argument(
        '--within',
        type=float,
        default=None,
        metavar='PCT',
        help='with --serving-robots: a fleet carries the service when its mean ticket is '
        "within PCT %% of the best fleet size's (default 2)",
    )

    s = sub.add_parser('gazebo', help='Gazebo (gz sim Harmonic) assets')
    gs = s.add_subparsers(dest='gazebo_command', required=True, metavar='ACTION')
    g = gs.add_parser('world', help='write an SDF world and a ros_gz_bridge config')
    config_arg(g)
    g.add_argument('--out', type=Path, required=True, help='output directory')
    return p


def kitchen_data_commands(
    sub: Any, config_arg: Callable[[Any], None], redis_arg: Callable[[Any], None]
) -> None:
    """`archive` and `report` (orchestrator/archive/, orchestrator/reports/)."""
    settings = get_settings()

    def archive_url_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            '--archive-url',
            default=None,
            help='SQLAlchemy URL (default: ROBODINE_ARCHIVE_URL, else archive.sqlite in '
            f'ROBODINE_DATA_DIR, {settings.data_dir})',
        )

    s = sub.add_parser('archive', help='copy finished records from Redis into the archive')
    acts = s.add_subparsers(dest='archive_command', required=True, metavar='ACTION')
    a = acts.add_parser('run', help='copy what finished (once, or every --every seconds)')
    config_arg(a)
    redis_arg(a)
    archive_url_arg(a)
    a.add_argument('--batch', type=int, default=200, help='records per transaction')
    a.add_argument('--every', type=float, default=0, help='repeat every N seconds (0: once)')
    a = acts.add_parser('demo-history', help='add generated demo history (labelled demo)')
    config_arg(a)
    archive_url_arg(a)
    a.add_argument('--weeks', type=int, default=4)
    a.add_argument('--force', action='store_true', help='even if the archive has orders')

    s = sub.add_parser('report', help="a day's report: CSV files and an HTML page with charts")
    config_arg(s)
    archive_url_arg(s)
    s.add_argument('--date', required=True, help='the day, YYYY-MM-DD (local time)')
    s.add_argument('--out', type=Path, required=True, help='output directory')


def config_check_command(args: argparse.Namespace) -> int:
    from robot_nodes.parking import parked_in_the_way  # the floor's geometry, with the robots'

    cfg = load_restaurant(args.path)
    if problems := parked_in_the_way(cfg):
        for problem in problems:
            print(f'error: {args.path}: {problem}', file=sys.stderr)
        return 1
    print(
        f'{args.path}: ok — {len(cfg.tables)} tables, {len(cfg.dishes)} dishes, '
        f'{len(cfg.stations)} stations, {len(cfg.cooking_robots)} cooking and '
        f'{len(cfg.serving_robots)} serving robots, {len(cfg.ingredients)} ingredients, '
        f'{len(cfg.recipes)} recipes'
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except (ValidationError, SettingsError) as e:
        # A bad ROBODINE_* value (environment or .env): named, not a traceback.
        for line in settings_errors(e):
            print(f'error: {line}', file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    module, func = HANDLERS[args.command].split(':')
    try:
        return int(getattr(importlib.import_module(module), func)(args) or 0)
    except ConfigError as e:
        # Every command reads a config (and rush a scenario): one place says what is wrong.
        print(f'error: {e}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
