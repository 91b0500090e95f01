"""Waplify (server.waplify.io): hosted campaigns — create, send (202, runs in the background), stats."""
