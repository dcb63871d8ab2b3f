"""The diner's page behind each table's QR code."""

from __future__ import annotations

import html
from functools import cache
from importlib import resources

from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from orchestrator.api.deps import Ctx
from orchestrator.api.errors import ApiError
from orchestrator.api.visits import current_visit_code, resolve
from orchestrator.config import LANGS
from orchestrator.texts import texts
from table_qr.tokens import TokenError

router = APIRouter(tags=['diner'])


@cache
def _template(name: str) -> str:
    return resources.files('orchestrator').joinpath(f'web/{name}').read_text(encoding='utf-8')


def pick_language(accept_language: str | None, default: str = LANGS[0]) -> str:
    """The best of our languages for an Accept-Language header (`zh-CN,en;q=0.8` -> zh)."""
    best, best_q = default, 0.0
    for part in (accept_language or '').split(','):
        tag, _, params = part.strip().partition(';')
        lang = tag.strip().lower().split('-')[0]
        try:
            q = float(params.strip()[2:]) if params.strip().startswith('q=') else 1.0
        except ValueError:
            continue
        if lang in LANGS and q > best_q:
            best, best_q = lang, q
    return best


@router.get(
    '/t/{token}',
    response_class=HTMLResponse,
    summary="A table's ordering page",
    responses={
        303: {'description': "a printed table code: on to this visit's code"},
        401: {'description': 'forged or tampered table code'},
        403: {'description': 'revoked table code, or a visit that has ended'},
    },
)
async def diner_page(
    token: str, ctx: Ctx, accept_language: str | None = Header(default=None)
) -> Response:
    lang = pick_language(accept_language)
    name = getattr(ctx.config.restaurant.name, lang)
    try:
        visit = await resolve(ctx, token)
    except (TokenError, ApiError) as e:
        ctx.metrics.rejections.inc('token')
        status, reason = (e.status, 'token') if isinstance(e, TokenError) else (403, e.reason)
        detail = e.message if isinstance(e, TokenError) else e.detail
        # In the diner's language; the English detail is for staff (on a long press or hover).
        page = _template('diner_error.html').format(
            lang=lang,
            title=html.escape(name),
            message=html.escape(texts(lang)['refusals'].get(reason, detail)),
            detail=html.escape(detail),
        )
        return HTMLResponse(page, status_code=status)
    if visit.caller.visit is None:
        # The printed code: the phone continues on a code of this visit only (api/visits.py).
        code = await current_visit_code(ctx, token, visit.table.id)
        return RedirectResponse(f'/t/{code}', status_code=303)
    table = visit.table
    page = _template('diner.html').format(
        lang=lang, title=html.escape(name), table=html.escape(getattr(table.name, lang))
    )
    return HTMLResponse(page, headers={'Cache-Control': 'no-store'})
