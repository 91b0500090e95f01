"""SPRL (insprl.com): read-only tracking of campaigns made in SPRL's own UI."""
