"""`robodine serve`: the orchestrator API under uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from orchestrator.api.app import create_app
from orchestrator.logs import setup_logging
from orchestrator.settings import get_settings


def serve_command(args: argparse.Namespace) -> int:
    settings = get_settings().model_copy(
        update={'config_path': args.config, 'redis_url': args.redis_url}
    )
    if args.with_dispatcher:
        settings = settings.model_copy(update={'dispatcher_enabled': True})
    setup_logging(settings.log_level, settings.log_json)
    app = create_app(settings)
    # log_config=None keeps the handlers set up above (JSON or text) for uvicorn's loggers too.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0
