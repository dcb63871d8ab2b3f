"""The orchestrator's HTTP API: diner page, menu, orders, live status, health and metrics."""
