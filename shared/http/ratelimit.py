"""A small in-process rate limiter: a token bucket per key (a user, a client address),
and the `Limits` of one process.

Each process keeps its own buckets, so N API processes admit up to N times the limit;
that bounds password guessing and a runaway consumer well enough without a shared
store. Buckets that have
refilled completely are forgotten, so memory stays bounded by the keys active in one
window.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.settings import Settings


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0


class RateLimiter:
    """At most `limit` hits per `window_s` seconds per key, refilled continuously."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a rate limit needs limit >= 1 and a positive window")
        self.limit = limit
        self.rate = limit / window_s  # tokens per second
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (float(self.limit), now))
        return min(float(self.limit), tokens + (now - at) * self.rate)

    def check(self, key: str) -> Verdict:
        """Whether a hit would be admitted now, without taking one."""
        with self._lock:
            tokens = self._tokens(key, self.clock())
        return self._verdict(tokens)

    def hit(self, key: str) -> Verdict:
        """Take one token for `key`; refused (with the wait) when none is left."""
        with self._lock:
            now = self.clock()
            tokens = self._tokens(key, now)
            verdict = self._verdict(tokens)
            if verdict.allowed:
                tokens -= 1
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:
                self._forget_full(now)
        return verdict

    def reset(self, key: str) -> None:
        with self._lock:
            self._buckets.pop(key, None)

    def _verdict(self, tokens: float) -> Verdict:
        if tokens >= 1:
            return Verdict(True)
        return Verdict(False, max(1, math.ceil((1 - tokens) / self.rate)))

    def _forget_full(self, now: float) -> None:
        full = [k for k in self._buckets if self._tokens(k, now) >= self.limit]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) > self.max_keys:
            # Still too many active keys: drop the oldest rather than grow without bound.
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k][1])
            for key in oldest[: len(self._buckets) - self.max_keys]:
                del self._buckets[key]


SIGN_IN_WINDOW_S = 300
FEED_WINDOW_S = 60


@dataclass(frozen=True)
class Limits:
    """Every rate limit of one process, made once from the settings (README: Configuration).

    Sign-in is counted per client address (every attempt at the sign-in form, and every
    failed bearer token or calendar secret at the API) and per username or token id (failed
    attempts at the form); the consumer feed per signed-in user."""

    signin_per_address: RateLimiter
    signin_per_user: RateLimiter
    token_failures_per_address: RateLimiter
    feed_pages_per_user: RateLimiter
    feed_streams_per_user: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            signin_per_address=RateLimiter(settings.signin_limit_per_address, SIGN_IN_WINDOW_S),
            signin_per_user=RateLimiter(settings.signin_limit_per_user, SIGN_IN_WINDOW_S),
            token_failures_per_address=RateLimiter(
                settings.token_failure_limit_per_address, SIGN_IN_WINDOW_S
            ),
            feed_pages_per_user=RateLimiter(settings.feed_limit_per_user, FEED_WINDOW_S),
            feed_streams_per_user=RateLimiter(settings.feed_stream_limit_per_user, FEED_WINDOW_S),
        )
