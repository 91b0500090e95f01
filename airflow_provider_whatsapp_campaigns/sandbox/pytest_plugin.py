"""pytest fixtures: one sandbox per session, reset before each test that asks for ``sandbox``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_whatsapp_campaigns.sandbox.runner import SandboxServer

__all__ = ["sandbox", "sandbox_server"]


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    sandbox_server.admin.reset(seed=sandbox_server.seed)
    return sandbox_server
