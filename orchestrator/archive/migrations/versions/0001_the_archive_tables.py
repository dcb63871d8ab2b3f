"""the archive tables

Revision ID: 0001
Revises:
Create Date: 2026-12-01 15:33:31.569325
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'archive_state',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'audit',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('at', sa.BigInteger(), nullable=False),
        sa.Column('who', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('target', sa.Text(), nullable=False),
        sa.Column('result', sa.Text(), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'dishes',
        sa.Column('job_id', sa.String(length=80), nullable=False),
        sa.Column('order_id', sa.String(length=64), nullable=False),
        sa.Column('dish_id', sa.String(length=40), nullable=False),
        sa.Column('station', sa.String(length=40), nullable=False),
        sa.Column('options', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('robot', sa.String(length=40), nullable=False),
        sa.Column('ordered_at', sa.BigInteger(), nullable=False),
        sa.Column('started_at', sa.BigInteger(), nullable=False),
        sa.Column('cooked_at', sa.BigInteger(), nullable=False),
        sa.Column('cook_time_s', sa.Integer(), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('hour', sa.Integer(), nullable=False),
        sa.Column('demo', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('job_id'),
    )
    with op.batch_alter_table('dishes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dishes_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_dishes_order_id'), ['order_id'], unique=False)

    op.create_table(
        'menu_events',
        sa.Column('id', sa.String(length=48), nullable=False),
        sa.Column('at', sa.BigInteger(), nullable=False),
        sa.Column('dish_id', sa.String(length=40), nullable=False),
        sa.Column('soldout', sa.Boolean(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('by', sa.String(length=64), nullable=False),
        sa.Column('why', sa.Text(), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('hour', sa.Integer(), nullable=False),
        sa.Column('demo', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('menu_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_menu_events_day'), ['day'], unique=False)

    op.create_table(
        'orders',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('table_id', sa.String(length=40), nullable=False),
        sa.Column('session_id', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('total', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('dishes', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('ready_at', sa.BigInteger(), nullable=False),
        sa.Column('left_at', sa.BigInteger(), nullable=False),
        sa.Column('served_at', sa.BigInteger(), nullable=False),
        sa.Column('finished_at', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('hour', sa.Integer(), nullable=False),
        sa.Column('demo', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_day'), ['day'], unique=False)

    op.create_table(
        'payments',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('session_id', sa.String(length=64), nullable=False),
        sa.Column('table_id', sa.String(length=40), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('provider', sa.String(length=40), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('paid_at', sa.BigInteger(), nullable=False),
        sa.Column('refunded_at', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('hour', sa.Integer(), nullable=False),
        sa.Column('demo', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_day'), ['day'], unique=False)

    op.create_table(
        'sessions',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('table_id', sa.String(length=40), nullable=False),
        sa.Column('party_size', sa.Integer(), nullable=False),
        sa.Column('opened_at', sa.BigInteger(), nullable=False),
        sa.Column('closed_at', sa.BigInteger(), nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.Column('total', sa.BigInteger(), nullable=False),
        sa.Column('paid_total', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('hour', sa.Integer(), nullable=False),
        sa.Column('demo', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_day'), ['day'], unique=False)

    op.create_table(
        'stock_moves',
        sa.Column('entry_id', sa.String(length=40), nullable=False),
        sa.Column('ingredient', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('at', sa.BigInteger(), nullable=False),
        sa.Column('by', sa.String(length=64), nullable=False),
        sa.Column('why', sa.Text(), nullable=False),
        sa.Column('order_id', sa.String(length=64), nullable=False),
        sa.Column('job_id', sa.String(length=80), nullable=False),
        sa.Column('dish_id', sa.String(length=40), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('hour', sa.Integer(), nullable=False),
        sa.Column('demo', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('entry_id', 'ingredient'),
    )
    with op.batch_alter_table('stock_moves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_moves_day'), ['day'], unique=False)

    op.create_table(
        'trips',
        sa.Column('trip_id', sa.String(length=64), nullable=False),
        sa.Column('robot_id', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('outcome', sa.String(length=40), nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.Column('stops', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('finished_at', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('hour', sa.Integer(), nullable=False),
        sa.Column('demo', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('trip_id'),
    )
    with op.batch_alter_table('trips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trips_day'), ['day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('trips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trips_day'))

    op.drop_table('trips')
    with op.batch_alter_table('stock_moves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_moves_day'))

    op.drop_table('stock_moves')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_day'))

    op.drop_table('sessions')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_day'))

    op.drop_table('payments')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_day'))

    op.drop_table('orders')
    with op.batch_alter_table('menu_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_menu_events_day'))

    op.drop_table('menu_events')
    with op.batch_alter_table('dishes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dishes_order_id'))
        batch_op.drop_index(batch_op.f('ix_dishes_day'))

    op.drop_table('dishes')
    op.drop_table('audit')
    op.drop_table('archive_state')
