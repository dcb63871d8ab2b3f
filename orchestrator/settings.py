"""The one settings object: environment variables `ROBODINE_*` (or a `.env` file) and CLI flags."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / 'seeds' / 'restaurant.yaml'


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
        default_factory=lambda: {'k1': SecretStr('robodine-demo-secret-change-me')}
    )
    # Table tokens refused even though their signature is valid (lost or replaced codes).
    revoked_tokens: set[str] = Field(default_factory=set)
    # Secret for operator session cookies and CSRF tokens.
    session_secret: SecretStr = SecretStr('robodine-demo-session-secret-change-me')
    # Console accounts from configuration, by name (`robodine operator add` stores them in Redis).
    operators: dict[str, OperatorSeed] = Field(default_factory=dict)
    # How long a console sign-in lasts without activity.
    session_ttl_s: int = Field(default=12 * 3600, ge=60)
    # Speeds up cooking, driving and pickup waits (1 = real time).
    time_scale: float = Field(default=1.0, gt=0, le=1000)
    # How long a dispatcher's claim on a job lasts unless renewed (real seconds); a crashed
    # dispatcher's jobs are taken over after it.
    dispatch_lease_s: float = Field(default=10.0, gt=0, le=600)
    # Run the dispatcher inside the API process.
    dispatcher_enabled: bool = False
    # Serve the operator console (and its feed reader) from this process.
    console_enabled: bool = True
    # Log lines as JSON objects instead of text.
    log_json: bool = False
    log_level: str = 'INFO'


@lru_cache
def get_settings() -> Settings:
    return Settings()
