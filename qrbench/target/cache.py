"""A bounded, thread-safe LRU cache keyed by digests, that counts its hits, misses and bytes.

Keys are reduced to a 16-byte BLAKE2b digest, so an entry's size does not grow with the texts in its
key (a 50,000-character candidate costs 16 bytes of key, not 50 KB); values are what the caller stores.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

import numpy as np

__all__ = ["LRUCache", "key_digest", "keyed_digests"]

V = TypeVar("V")

# What the OrderedDict spends per entry beyond key and value (hash slot and linked-list node), measured
# on CPython 3.11 as ~100 bytes: the byte counts are estimates of this order, not exact.
_ENTRY_OVERHEAD_BYTES = 104


def key_digest(key: Hashable) -> bytes:
    """16-byte digest of a str, bytes, number, None or (nested) tuple of them; distinct keys differ.

    Each part is tagged with its type and length, so ("ab", "c") and ("a", "bc") do not collide.
    """
    h = hashlib.blake2b(digest_size=16)
    _feed(h, key)
    return h.digest()


def keyed_digests(prefix: tuple, last_parts: Sequence[Hashable]) -> list[bytes]:
    """key_digest((*prefix, part)) for each part, with the prefix hashed once (a rerank's 100 similarity
    keys share method, settings and query: ~4x faster than digesting each whole key)."""
    head = hashlib.blake2b(digest_size=16)
    head.update(b"t%d:" % (len(prefix) + 1))
    for part in prefix:
        _feed(head, part)
    out = []
    for part in last_parts:
        h = head.copy()
        _feed(h, part)
        out.append(h.digest())
    return out


def _feed(h, part) -> None:
    if isinstance(part, tuple):
        h.update(b"t%d:" % len(part))
        for p in part:
            _feed(h, p)
        return
    if isinstance(part, str):
        data, tag = part.encode("utf-8", "surrogatepass"), b"s"
    elif isinstance(part, bytes):
        data, tag = part, b"b"
    elif part is None or isinstance(part, bool | int | float):
        data, tag = repr(part).encode(), b"n"
    else:
        raise TypeError(f"cache keys are str, bytes, numbers, None or tuples of them, not {type(part).__name__}")
    h.update(tag + b"%d:" % len(data))
    h.update(data)


def _value_bytes(value) -> int:
    if isinstance(value, tuple):
        return sys.getsizeof(value) + sum(_value_bytes(v) for v in value)
    return sys.getsizeof(value)  # an ndarray that owns its data counts its buffer too


class LRUCache(Generic[V]):
    """LRU mapping of at most `capacity` entries and, if max_bytes is given, about that many bytes.

    capacity 0 stores nothing (every lookup misses). A stored numpy array that is a view into a larger
    one is copied, so that the cache holds its row and not the whole batch it came from.
    """

    def __init__(self, capacity: int, *, max_bytes: int | None = None) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.nbytes = 0  # estimated bytes held by the entries (keys, values, bookkeeping)
        self._data: OrderedDict[bytes, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        return self.get_digest(key_digest(key))

    def get_digest(self, digest: bytes) -> V | None:
        """get() by the key's digest (key_digest or keyed_digests)."""
        with self._lock:
            entry = self._data.get(digest)
            if entry is None:
                self.misses += 1
                return None
            self._data.move_to_end(digest)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, value: V) -> None:
        self.put_digest(key_digest(key), value)

    def put_digest(self, digest: bytes, value: V) -> None:
        """put() by the key's digest (key_digest or keyed_digests)."""
        if self.capacity == 0:
            return
        if isinstance(value, np.ndarray) and value.base is not None:
            value = value.copy()
        size = sys.getsizeof(digest) + _value_bytes(value) + _ENTRY_OVERHEAD_BYTES
        with self._lock:
            old = self._data.pop(digest, None)
            if old is not None:
                self.nbytes -= old[1]
            self._data[digest] = (value, size)
            self.nbytes += size
            while len(self._data) > self.capacity or (
                self.max_bytes is not None and self.nbytes > self.max_bytes and self._data
            ):
                _, (_, evicted) = self._data.popitem(last=False)
                self.nbytes -= evicted

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.nbytes = 0
