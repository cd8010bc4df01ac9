"""Failed authentications, limited per client address: a token bucket per address, in bounded memory.

Each address may fail `per_minute` times a minute, in bursts of as many; one that has used up its
allowance is refused (429, with the seconds until it may try again) before its token is even looked
at, so guessing gets no faster by being refused. At most `max_addresses` buckets are kept, the
least recently failed dropped first: a flood of addresses costs memory up to that bound and no more.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class FailureLimiter:
    def __init__(
        self, per_minute: float = 30.0, max_addresses: int = 4096, clock: Callable[[], float] = time.monotonic
    ):
        self.rate = per_minute / 60.0  # allowance regained per second
        self.burst = max(1.0, per_minute)
        self.max_addresses = max_addresses
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (allowance, at)

    def _allowance(self, address: str, now: float) -> float:
        allowance, at = self._buckets.get(address, (self.burst, now))
        return min(self.burst, allowance + (now - at) * self.rate)

    def retry_after(self, address: str) -> float | None:
        """Seconds until `address` may try again, or None if it may now."""
        with self._lock:
            if address not in self._buckets:
                return None
            allowance = self._allowance(address, self._clock())
        return None if allowance >= 1.0 else (1.0 - allowance) / self.rate

    def failed(self, address: str) -> None:
        with self._lock:
            now = self._clock()
            allowance = self._allowance(address, now) - 1.0
            self._buckets[address] = (allowance, now)
            self._buckets.move_to_end(address)
            while len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
