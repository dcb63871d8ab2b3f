"""`robodine serve`: the orchestrator API under uvicorn."""

from __future__ import annotations

import argparse
import logging
import socket
import sys

import redis
import uvicorn

from orchestrator.api.app import REDIS_CONNECT_TIMEOUT_S, create_app
from orchestrator.logs import setup_logging
from orchestrator.settings import DEMO_KEY_REFUSED, Settings, get_settings
from orchestrator.store import connection
from orchestrator.store.server import durability_sync

log = logging.getLogger(__name__)


def check_redis(settings: Settings) -> bool:
    """Warn about a Redis that may lose acknowledged orders; False (after saying why) if it
    may evict them. A Redis that does not answer yet is not fatal: /readyz says so."""
    client = connection.connect_sync(settings, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S)
    try:
        found = durability_sync(client)
    except redis.RedisError as e:
        log.warning('redis not reachable at startup (%s): its durability is checked by /readyz', e)
        return True
    finally:
        client.close()
    if found.evicts:
        where = connection.describe(settings)
        print(f'error: Redis at {where}: {found.warnings()[0]}', file=sys.stderr)
        return False
    for warning in found.warnings():
        log.warning('redis at %s: %s', connection.describe(settings), warning)
    return True


def serve_command(args: argparse.Namespace) -> int:
    settings = get_settings().model_copy(
        update={'config_path': args.config, 'redis_url': args.redis_url}
    )
    if args.with_dispatcher:
        settings = settings.model_copy(update={'dispatcher_enabled': True})
    setup_logging(settings.log_level, settings.log_json)
    if settings.refuses_demo_key(args.demo):
        print(DEMO_KEY_REFUSED, file=sys.stderr)
        return 1
    if not check_redis(settings):
        return 1
    sockets = None
    if args.reuse_port:
        try:
            sockets = [shared_socket(args.host, args.port)]
        except OSError as e:  # uvicorn says so for its own socket; ours says it too
            print(f'error: cannot listen on {args.host}:{args.port}: {e}', file=sys.stderr)
            return 1
    app = create_app(settings)
    # log_config=None keeps the handlers set up above (JSON or text) for uvicorn's loggers too.
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        limit_concurrency=settings.http_limit_concurrency,
        backlog=settings.http_backlog,
    )
    server = uvicorn.Server(config)
    server.run(sockets=sockets)
    return 0


def shared_socket(host: str, port: int) -> socket.socket:
    """A listening address several `serve` processes bind at once (SO_REUSEPORT): the kernel
    spreads new connections over them, and one that dies takes only its own connections."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock
