"""The kitchen operator console: sign-in, live tickets/fleet/alerts and audited controls."""
