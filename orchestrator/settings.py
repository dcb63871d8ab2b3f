"""The one settings object: environment variables `ROBODINE_*` (or a `.env` file) and CLI flags."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from orchestrator.config import PolicyName, RestaurantConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / 'seeds' / 'restaurant.yaml'
# Published in this repository: anyone can sign a table code with it.
DEMO_TABLE_KEY = 'robodine-demo-secret-change-me'
# The fastest the simulated clock may run (ROBODINE_TIME_SCALE, --time-scale).
MAX_TIME_SCALE = 1000.0
DEMO_KEY_REFUSED = (
    'error: ROBODINE_TABLE_KEYS is the demo key published with robodine: anyone could sign a '
    'table code for your restaurant. Generate one with `robodine keys new` and set '
    'ROBODINE_TABLE_KEYS, or pass --demo (ROBODINE_DEMO=1) for a demo.'
)


class OperatorSeed(BaseModel):
    """A console account given in configuration: an argon2 hash, never a clear password."""

    role: Literal['operator', 'manager'] = 'operator'
    password_hash: SecretStr


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix='ROBODINE_', env_file='.env', extra='ignore')

    # The restaurant YAML (tables, menu, robots, floor).
    config_path: Path = DEFAULT_CONFIG
    redis_url: str = 'redis://127.0.0.1:6379/0'
    # Public base of the diner URLs printed in the QR codes.
    base_url: str = 'http://127.0.0.1:8000'
    # HMAC keys for table tokens, by key id; the first is used to sign, all verify.
    table_keys: dict[str, SecretStr] = Field(
        default_factory=lambda: {'k1': SecretStr(DEMO_TABLE_KEY)}
    )
    # Allow `serve` and `qr` to run with the demo table key published in this repository.
    demo: bool = False
    # Table tokens refused even though their signature is valid (lost or replaced codes).
    revoked_tokens: set[str] = Field(default_factory=set)
    # Console accounts from configuration, by name (`robodine operator add` stores them in Redis).
    operators: dict[str, OperatorSeed] = Field(default_factory=dict)
    # How long a console sign-in lasts without activity.
    session_ttl_s: int = Field(default=12 * 3600, ge=60)
    # Speeds up cooking, driving and pickup waits (1 = real time).
    time_scale: float = Field(default=1.0, gt=0, le=MAX_TIME_SCALE)
    # How long a dispatcher's claim on a job lasts unless renewed (real seconds); a crashed
    # dispatcher's jobs are taken over after it.
    dispatch_lease_s: float = Field(default=10.0, gt=0, le=600)
    # A robot command (STOP ALL, release, pause...) not run this many real seconds after it was
    # queued is dropped as expired (audited, alerted), never run late.
    command_ttl_s: float = Field(default=30.0, gt=0, le=3600)
    # Finished orders (with their jobs, timelines, trips), settled dead letters, acknowledged
    # alerts and robots' ledger rows older than this are trimmed (`robodine retention`).
    retention_days: float = Field(default=7.0, gt=0)
    # Where `robodine up` keeps Redis, ledgers and logs, and where the archive's SQLite file
    # lives unless `archive_url` names another database.
    data_dir: Path = Path('var')
    # The archive (orchestrator/archive/): any SQLAlchemy URL, e.g.
    # postgresql+psycopg://user:pw@host/robodine; unset: SQLite `<data_dir>/archive.sqlite`.
    archive_url: str | None = None
    # The API process copies finished records into the archive this often (0: never; run
    # `robodine archive run` instead).
    archive_every_s: float = Field(default=30.0, ge=0)
    # Run the dispatcher inside the API process.
    dispatcher_enabled: bool = False
    # The scheduling policy, instead of the restaurant config's `service.policy`.
    policy: PolicyName | None = None
    # Traffic control of the serving robots, instead of the config's `service.traffic_control`.
    traffic_control: bool | None = None
    # Serve the operator console (and its feed reader) from this process.
    console_enabled: bool = True
    # Redis connections of the API process (one pool, shared by every request); a request waits
    # up to `redis_pool_timeout_s` for a free one, then answers 503. Replies slower than
    # `redis_socket_timeout_s` count as Redis being down.
    redis_max_connections: int = Field(default=64, ge=4, le=10_000)
    redis_pool_timeout_s: float = Field(default=5.0, gt=0, le=60)
    redis_socket_timeout_s: float = Field(default=10.0, gt=2, le=300)
    # Redis through Sentinel (store/connection.py): the sentinels ('host:port', comma-separated
    # or a JSON list) and the name they know the primary by; unset: `redis_url` is the server.
    redis_sentinels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_master: str = 'robodine'
    # An order's 201 waits until this many replicas have it (WAIT), else the order API answers
    # 503 "retry with the same Idempotency-Key" after `redis_replica_timeout_ms`.
    redis_min_replicas: int = Field(default=0, ge=0, le=16)
    redis_replica_timeout_ms: int = Field(default=1000, ge=10, le=60_000)
    # uvicorn: connections served at once (beyond it: 503) and the listen backlog.
    http_limit_concurrency: int = Field(default=4096, ge=16)
    http_backlog: int = Field(default=2048, ge=16)
    # Open live streams (order status, menu) allowed per table and per client address (429
    # beyond). Behind a NAT every phone of the restaurant may share one address: raise it then.
    streams_per_table: int = Field(default=32, ge=1)
    streams_per_address: int = Field(default=256, ge=1)
    # Console sign-ins: argon2 checks running at once (in worker threads), and failed attempts
    # allowed per window per client address and per (name, address).
    login_verify_concurrency: int = Field(default=2, ge=1, le=64)
    login_fails_per_address: int = Field(default=20, ge=1)
    login_fails_per_name_address: int = Field(default=5, ge=1)
    login_fail_window_s: int = Field(default=300, ge=10)
    # ROS 2 of the dispatcher and the robots (README "Security → ROS 2"): the DDS domain (unset:
    # the environment's ROS_DOMAIN_ID, else 0; `robodine up` picks a private one), how far
    # discovery reaches (ROS_AUTOMATIC_DISCOVERY_RANGE: localhost = this machine only, subnet =
    # the restaurant LAN) and the peers to find beyond it (ROS_STATIC_PEERS).
    ros_domain_id: int | None = Field(default=None, ge=0, le=232)
    ros_discovery: Literal['localhost', 'subnet', 'off', 'system_default'] = 'localhost'
    ros_static_peers: list[str] = Field(default_factory=list)
    # The robots' keys (`robodine robots keys`): the dispatcher reads every `<robot_id>.key`.
    robot_key_dir: Path = Path('var/robot_keys')
    # Log lines as JSON objects instead of text.
    log_json: bool = False
    log_level: str = 'INFO'

    @field_validator('redis_sentinels', mode='before')
    @classmethod
    def _sentinel_list(cls, v: object) -> object:
        """'h1:26379,h2:26379' as well as a JSON list."""
        if isinstance(v, str) and not v.lstrip().startswith('['):
            return [s.strip() for s in v.split(',') if s.strip()]
        if isinstance(v, str):
            return orjson.loads(v)
        return v

    @field_validator('log_level')
    @classmethod
    def _log_level(cls, v: str) -> str:
        """A level `logging` knows (any case), told at start rather than when logging starts."""
        if v.upper() not in logging.getLevelNamesMapping():
            raise ValueError('expected DEBUG, INFO, WARNING, ERROR or CRITICAL')
        return v.upper()

    @field_validator('redis_sentinels')
    @classmethod
    def _sentinel_addresses(cls, v: list[str]) -> list[str]:
        """Every sentinel is `host:port`, so a typo is told at start, not as a traceback."""
        for item in v:
            _host, sep, port = item.strip().rpartition(':')
            if not sep or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f'{item!r} is not host:port (e.g. h1:26379)')
        return v

    def traffic_control_for(self, cfg: RestaurantConfig) -> bool:
        """Whether serving robots ask the traffic controller (orchestrator/traffic.py)."""
        if self.traffic_control is None:
            return cfg.service.traffic_control
        return self.traffic_control

    def ros_environment(self) -> dict[str, str]:
        """The ROS 2 environment variables every robodine process on the domain shares."""
        env = {'ROS_AUTOMATIC_DISCOVERY_RANGE': self.ros_discovery.upper()}
        if self.ros_domain_id is not None:
            env['ROS_DOMAIN_ID'] = str(self.ros_domain_id)
        if self.ros_static_peers:
            env['ROS_STATIC_PEERS'] = ';'.join(self.ros_static_peers)
        return env

    def uses_demo_key(self) -> bool:
        return any(k.get_secret_value() == DEMO_TABLE_KEY for k in self.table_keys.values())

    def refuses_demo_key(self, demo_flag: bool) -> bool:
        """The demo table key is in use without --demo (DEMO_KEY_REFUSED says why)."""
        return self.uses_demo_key() and not (demo_flag or self.demo)


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_errors(e: ValidationError | SettingsError) -> list[str]:
    """One line per bad setting, named as it is set: `ROBODINE_TIME_SCALE='0': Input should
    be greater than 0` (a secret's value is not repeated)."""
    if isinstance(e, SettingsError):  # a JSON value that does not parse
        found = re.search(r'field "(\w+)"', str(e))
        name = f'ROBODINE_{found.group(1).upper()}' if found else 'settings'
        return [f'{name}: not valid JSON ({e.__cause__ or e})']
    lines = []
    for err in e.errors():
        field = str(err['loc'][0]) if err['loc'] else ''
        name = f'ROBODINE_{field.upper()}' if field else 'settings'
        value = '' if field in _SECRET_FIELDS else f'={err["input"]!r}'
        lines.append(f'{name}{value}: {err["msg"].removeprefix("Value error, ")}')
    return lines


_SECRET_FIELDS = frozenset({'table_keys', 'operators', 'redis_url', 'archive_url'})
