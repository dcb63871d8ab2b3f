"""`robodine qr`: every table's QR code (SVG + PNG), a printable sheet and `tables.csv`."""

from __future__ import annotations

import argparse
import csv
import html
import sys
from dataclasses import dataclass
from pathlib import Path

import segno

from orchestrator.config import LANGS, ConfigError, Names, RestaurantConfig, load_restaurant
from orchestrator.settings import DEMO_KEY_REFUSED, Settings
from table_qr.tokens import sign, table_url

# Module size of the files (pixels for the PNG, user units for the SVG); the sheet scales.
PNG_SCALE = 10
SVG_SCALE = 8


@dataclass(frozen=True)
class TableCode:
    table_id: str
    name: str
    url: str


def _names(names: Names) -> str:
    """The table's name as a printed card shows it: each language's, once ('1번 · Table 1')."""
    return ' · '.join(dict.fromkeys(getattr(names, lang) for lang in LANGS))


def table_codes(cfg: RestaurantConfig, settings: Settings, base_url: str) -> list[TableCode]:
    return [
        TableCode(
            t.id,
            _names(t.name),
            table_url(base_url, sign(settings.table_keys, cfg.restaurant.id, t.id)),
        )
        for t in cfg.tables
    ]


def write_codes(cfg: RestaurantConfig, codes: list[TableCode], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cards = []
    for code in codes:
        # Error level M survives a smudged or partly covered sticker on a table.
        qr = segno.make(code.url, error='m')
        qr.save(str(out / f'{code.table_id}.svg'), scale=SVG_SCALE, border=4)
        qr.save(str(out / f'{code.table_id}.png'), scale=PNG_SCALE, border=4)
        cards.append(
            f'<figure><img src="{code.table_id}.svg" alt="QR code for {html.escape(code.name)}">'
            f'<figcaption><strong>{html.escape(code.name)}</strong>'
            f'<small>{html.escape(code.url)}</small></figcaption></figure>'
        )
    with (out / 'tables.csv').open('w', newline='', encoding='utf-8') as f:
        w = csv.writer(f)
        w.writerow(['table_id', 'name', 'url'])
        w.writerows([c.table_id, c.name, c.url] for c in codes)
    title = html.escape(f'{cfg.restaurant.name.en} — table codes')
    (out / 'sheet.html').write_text(
        SHEET.format(title=title, cards='\n'.join(cards)), encoding='utf-8'
    )


SHEET = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
  @page {{ size: A4; margin: 12mm; }}
  body {{ font-family: system-ui, sans-serif; margin: 0; }}
  h1 {{ font-size: 14pt; }}
  main {{ display: grid; grid-template-columns: repeat(3, 1fr); gap: 8mm; }}
  figure {{ margin: 0; padding: 4mm; border: 1px dashed #999; text-align: center;
           break-inside: avoid; }}
  img {{ width: 45mm; height: 45mm; }}
  figcaption strong {{ display: block; font-size: 14pt; }}
  figcaption small {{ display: block; font-size: 6pt; color: #555; word-break: break-all; }}
</style></head>
<body><h1>{title}</h1><main>
{cards}
</main></body></html>
"""


def qr_command(args: argparse.Namespace) -> int:
    try:
        cfg = load_restaurant(args.config)
    except ConfigError as e:
        print(f'error: {e}')
        return 1
    settings = Settings()
    if settings.refuses_demo_key(args.demo):
        print(DEMO_KEY_REFUSED, file=sys.stderr)
        return 1
    codes = table_codes(cfg, settings, args.base_url)
    write_codes(cfg, codes, args.out)
    print(f'{len(codes)} table codes written to {args.out} (sheet.html, tables.csv)')
    return 0
