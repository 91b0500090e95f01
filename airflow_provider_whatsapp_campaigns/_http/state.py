"""One owned, bounded, clearable cache for everything the provider keeps per process.

Mint locks, minted tokens, rate limiters, shared aiohttp sessions and once-only warnings all live
here, keyed by ``(kind, key)``, either per process or per running event loop (asyncio objects
must not cross loops). Least recently used entries are evicted past ``max_entries``: eviction
only costs sharing — the next caller makes a new lock, limiter or session and whoever holds
the old one keeps using it. :func:`clear_process_state` forgets everything (tests, credential
rotation).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import LRUCache

T = TypeVar("T")
#: Per scope (the process, or one event loop); far above the connections one worker uses.
MAX_ENTRIES = 4096

_Key = tuple[str, Hashable]


class ProcessState:
    """Values by ``(kind, key)``, per process or per running event loop, LRU-bounded, thread-safe."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._process: LRUCache[_Key, Any] = LRUCache(max_entries)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LRUCache[_Key, Any]] = (
            weakref.WeakKeyDictionary()
        )

    def _scope(self, per_loop: bool) -> LRUCache[_Key, Any]:
        if not per_loop:
            return self._process
        loop = asyncio.get_running_loop()
        scope = self._loops.get(loop)
        if scope is None:
            scope = self._loops[loop] = LRUCache(self.max_entries)
        return scope

    def get(self, kind: str, key: Hashable, *, per_loop: bool = False) -> Any:
        """The value, or ``None``."""
        with self._lock:
            return self._scope(per_loop).get((kind, key))

    def put(self, kind: str, key: Hashable, value: T, *, per_loop: bool = False) -> T:
        with self._lock:
            self._scope(per_loop)[(kind, key)] = value
        return value

    def setdefault(self, kind: str, key: Hashable, factory: Callable[[], T], *, per_loop: bool = False) -> T:
        """The value, made by ``factory`` (under the lock: made once) when missing."""
        with self._lock:
            scope = self._scope(per_loop)
            value = scope.get((kind, key))
            if value is None:
                value = scope[(kind, key)] = factory()
            return value  # type: ignore[no-any-return]

    def discard(self, kind: str, key: Hashable, value: Any, *, per_loop: bool = False) -> None:
        """Forget the entry if it still holds ``value`` (a newer one is left alone)."""
        with self._lock:
            scope = self._scope(per_loop)
            if scope.get((kind, key)) is value:
                del scope[(kind, key)]

    def first_time(self, kind: str, key: Hashable) -> bool:
        """True once per ``(kind, key)`` per process (until cleared): for warn-once messages."""
        with self._lock:
            if self._process.get((kind, key)) is not None:
                return False
            self._process[(kind, key)] = True
            return True

    def size(self, kind: str, *, per_loop: bool = False) -> int:
        with self._lock:
            return sum(1 for k, _ in self._scope(per_loop) if k == kind)

    def clear(self) -> None:
        with self._lock:
            self._process.clear()
            self._loops.clear()


STATE = ProcessState()


def clear_process_state() -> None:
    """Forget every lock, token, limiter, session and warning this process holds."""
    STATE.clear()
