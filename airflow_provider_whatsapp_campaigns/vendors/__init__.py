"""Vendor internals, one package per vendor; the public hook paths are ``hooks.<vendor>``."""
