"""The console's Stock and Reports views: ingredient levels, low-stock flags, restocks and count
corrections (audited with who and why), the waste log; a day's report from the archive with
CSV downloads, and the prep list for a day from the forecast."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, WithJsonSchema
from sqlalchemy import Engine

from orchestrator.archive.db import archive_url
from orchestrator.config import Amount, parse_amount
from orchestrator.console import auth
from orchestrator.console.accounts import Operator
from orchestrator.console.context import ConsoleContext, get_ctx
from orchestrator.recipes import kitchen
from orchestrator.reports import day, forecast, render
from orchestrator.store import audit, stock
from orchestrator.texts import Refused, Said

router = APIRouter()
Ctx = Annotated[ConsoleContext, Depends(get_ctx)]
Reader = Annotated[Operator, Depends(auth.signed_in)]
Actor = Annotated[Operator, Depends(auth.may_act)]
# Movements the Stock view lists.
SHOWN_MOVES = 100


@router.get('/console/api/stock')
async def stock_view(_: Reader, ctx: Ctx) -> dict[str, Any]:
    k = kitchen(ctx.config)
    levels = await stock.levels(ctx.redis)
    rows = []
    for ing_id, ing in k.ingredients.items():
        level, low = levels.get(ing_id, 0), k.amount(ing_id, 'low_stock')
        rows.append(
            {
                'id': ing_id,
                'name': ing.name.model_dump(),
                'unit': ing.unit,
                'level': level,
                'low_stock': low,
                'par': k.amount(ing_id, 'par'),
                'low': level <= low,
                'dishes': k.users()[ing_id],
            }
        )
    return {
        'ingredients': rows,
        'auto_out': sorted(await stock.auto_out(ctx.redis)),
        'moves': await stock.moves(ctx.redis, SHOWN_MOVES),
        'waste': await stock.moves(ctx.redis, SHOWN_MOVES, kinds=[stock.WASTE]),
    }


class RestockBody(BaseModel):
    # In the ingredient's unit, or with a unit: "2 kg", "1.5 l".
    amount: Amount
    why: Annotated[str, Field(max_length=200)] = ''


class CountBody(BaseModel):
    level: Amount
    why: Annotated[str, Field(min_length=1, max_length=200)]


def _amount(ctx: ConsoleContext, ingredient: str, value: Amount, field: str) -> int:
    k = kitchen(ctx.config)
    if ingredient not in k.ingredients:
        raise Refused(404, 'no_ingredient', ingredient=ingredient)
    unit = k.unit(ingredient)
    try:
        return parse_amount(value, unit)
    except ValueError as e:
        raise Refused(
            422, 'bad_amount', field=field, value=str(value), unit=unit, detail=str(e)
        ) from e


async def _stock_change(
    ctx: ConsoleContext, op: Operator, action: str, ingredient: str, why: str, work: Any
) -> dict[str, Any]:
    """Run a stock change and audit it with who and why (refusals too)."""
    try:
        level = await work
    except stock.StockRefused as e:
        await audit.record(ctx.redis, op.name, action, ingredient, f'refused: {e}', why, e.said)
        raise
    unit = kitchen(ctx.config).unit(ingredient)
    done = Said('done.stock_level', {'level': level, 'unit': unit})
    if why:
        done = Said('done.stock_level_why', {**done.args, 'why': why})
    entry = await audit.record(ctx.redis, op.name, action, ingredient, 'ok', str(done), done)
    return {
        'result': 'ok',
        'detail': str(done),
        **done.view(),
        'level': level,
        'audit_id': entry['id'],
    }


@router.post('/console/api/stock/{ingredient}/restock')
async def restock(ingredient: str, body: RestockBody, op: Actor, ctx: Ctx) -> dict[str, Any]:
    amount = _amount(ctx, ingredient, body.amount, 'amount')
    work = stock.restock(ctx.redis, ctx.config, ingredient, amount, op.name, body.why)
    return await _stock_change(ctx, op, 'stock.restock', ingredient, body.why, work)


@router.post('/console/api/stock/{ingredient}/count')
async def count(ingredient: str, body: CountBody, op: Actor, ctx: Ctx) -> dict[str, Any]:
    level = _amount(ctx, ingredient, body.level, 'level')
    work = stock.count(ctx.redis, ctx.config, ingredient, level, op.name, body.why)
    return await _stock_change(ctx, op, 'stock.count', ingredient, body.why, work)


# -- Reports (the archive) ---------------------------------------------------------------------


def _engine(request: Request, ctx: ConsoleContext) -> Engine:
    engine = getattr(request.app.state, 'archive', None)
    if engine is None:
        raise Refused(503, 'no_archive', url=archive_url(ctx.settings))
    return engine


# A day as the API takes it (YYYY-MM-DD, a real date; not the other ISO forms Python reads,
# such as 20261205 or 2026-W49-6), declared in the OpenAPI document and checked in `_day`.
DAY_PATTERN = r'^\d{4}-\d{2}-\d{2}$'
Day = Annotated[
    str,
    WithJsonSchema(
        {'type': 'string', 'format': 'date', 'pattern': DAY_PATTERN, 'examples': ['2026-12-05']}
    ),
]


def _day(value: str) -> str:
    try:
        if not re.fullmatch(DAY_PATTERN, value):
            raise ValueError(value)
        return date.fromisoformat(value).isoformat()
    except ValueError as e:
        raise Refused(422, 'bad_date', field='date', value=value) from e


async def _report(request: Request, ctx: ConsoleContext, which: str) -> day.Report:
    engine = _engine(request, ctx)
    return await asyncio.to_thread(day.build, engine, ctx.config, _day(which))


@router.get('/console/api/reports/{which}')
async def report(which: Day, request: Request, _: Reader, ctx: Ctx) -> dict[str, Any]:
    return (await _report(request, ctx, which)).view()


@router.get('/console/api/reports/{which}/{section}.csv')
async def report_csv(which: Day, section: str, request: Request, _: Reader, ctx: Ctx) -> Response:
    found = (await _report(request, ctx, which)).section(section)
    if found is None:
        raise Refused(404, 'no_section', section=section)
    return Response(
        render.section_csv(found),
        media_type='text/csv; charset=utf-8',
        headers={'Content-Disposition': f'attachment; filename="{which}-{section}.csv"'},
    )


@router.get('/console/api/prep')
async def prep(
    request: Request,
    _: Reader,
    ctx: Ctx,
    which: Day | None = None,
) -> dict[str, Any]:
    """The prep list for a day (default tomorrow) beside what is in stock now."""
    target = _day(which or (date.today() + timedelta(days=1)).isoformat())
    engine = _engine(request, ctx)

    def work() -> tuple[forecast.Forecast, forecast.Accuracy]:
        with engine.connect() as conn:
            return forecast.forecast(conn, target), forecast.accuracy(conn, target)

    f, acc = await asyncio.to_thread(work)
    levels = await stock.levels(ctx.redis)
    accuracy = acc.said()
    return {
        'date': target,
        'based_on': f.based_on,
        # In English, and as the console's text by its key and values.
        'accuracy': str(accuracy),
        'accuracy_said': accuracy.key,
        'accuracy_args': dict(accuracy.args),
        'lines': [
            {
                'ingredient': p.ingredient,
                'unit': p.unit,
                'need': p.need,
                'in_stock': levels.get(p.ingredient, 0),
                'to_prep': max(0, p.need - levels.get(p.ingredient, 0)),
            }
            for p in forecast.prep_list(ctx.config, f)
        ],
    }
