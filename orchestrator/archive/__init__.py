"""The archive: finished orders, dishes, trips, payments, dining sessions, stock movements, 86
events and the audit trail, copied out of Redis into SQL (SQLite under the data dir by default,
PostgreSQL with `ROBODINE_ARCHIVE_URL`) for reports and the prep forecast.

`schema.py` the tables (SQLAlchemy Core), `migrations/` their history (Alembic), `db.py` opening
and migrating, `archiver.py` the copy (idempotent, crash-safe), `service.py` running it.
"""
