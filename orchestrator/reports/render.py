"""A report as CSV (one file per section) and as one self-contained HTML page: the report's
data and the chart code (`web/charts.js`, the console's own) inline, nothing fetched."""

from __future__ import annotations

import csv
import html
import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

from orchestrator.reports.day import Report, Section
from orchestrator.texts import texts

STYLE = """
body{font:14px system-ui,sans-serif;margin:24px auto;max-width:760px;color:#1a202c}
h1{font-size:22px}h3{font-size:16px;margin:28px 0 6px}h3 .csv{font-size:12px;margin-left:8px}
.chart{width:100%;height:auto;background:#fff}.chart .grid{stroke:#e2e8f0}
.chart .tick{font-size:10px;fill:#4a5568}
.report-table{border-collapse:collapse;font-size:12px;margin-top:6px}
.report-table td,.report-table th{border:1px solid #e2e8f0;padding:2px 8px;text-align:right}
.demo-banner{background:#fefcbf;border:1px solid #d69e2e;padding:6px 10px;font-weight:600}
"""


def section_csv(section: Section) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator='\n')
    w.writerow(section.columns)
    w.writerows(['' if v is None else v for v in row] for row in section.rows)
    return out.getvalue()


def _script_json(value: Any) -> str:
    # Inside <script>: "</" must not end the element early.
    return json.dumps(value, ensure_ascii=False).replace('</', '<\\/')


def page(report: Report, restaurant: str) -> str:
    charts = resources.files('orchestrator').joinpath('web/charts.js').read_text('utf-8')
    view = report.view()
    # The English words the console's charts use (console_i18n.json).
    words = {
        k: texts('en')['console']['reports'][k] for k in ('csv', 'nothing', 'demo', 'right_axis')
    }
    title = f'{restaurant} — {view["weekday"]} {report.date}'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Written by <code>robodine report</code>; each table is also a CSV file next to this page.</p>
<div id="report"></div>
<script>{charts}</script>
<script>
RobodineCharts.render(document.getElementById('report'), {_script_json(view)},
  (s) => s.id + '.csv', RobodineCharts.english({_script_json(words)}));
</script>
</body></html>
"""


def write(report: Report, restaurant: str, out: Path) -> list[Path]:
    """Every section's CSV and `report.html` into `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for s in report.sections:
        path = out / f'{s.id}.csv'
        path.write_text(section_csv(s), encoding='utf-8')
        written.append(path)
    path = out / 'report.html'
    path.write_text(page(report, restaurant), encoding='utf-8')
    written.append(path)
    return written
