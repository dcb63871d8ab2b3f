"""Reports for managers from the archive (orchestrator/archive/): `day.py` a day's report as
sections (columns, rows, a chart spec), `forecast.py` expected dishes per hour and the prep
list, `render.py` CSV and the self-contained HTML page, `command.py` `robodine report`."""
