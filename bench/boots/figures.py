"""The boot bench's runs and figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.load import percentile
from bench.profiling import RequestProfile

LOAD_PREFIX = "load-"


BOOT_PATH = "/sdk/v1/boot"


POOL_SIZE = 60_000


FLOOR_THREADS = 8


FLOOR_MAX_OPS = 4_000


MIXES = ("new", "returning")


@dataclass
class LoadRun:
    mix: str
    connections: int
    result: dict[str, Any]
    cpu: dict[str, float]
    sessions: dict[str, float]  # share of sampled session states, %
    command: list[str]


@dataclass
class FloorRun:
    mix: str
    sessions: int
    ops: int
    seconds: float
    samples_ms: list[float]
    postgres_cpu_ms: float | None = None  # PostgreSQL CPU per write

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def p(self, percent: float) -> float:
        return percentile(sorted(self.samples_ms), percent)


@dataclass
class BootFigures:
    server: list[str] = field(default_factory=list)
    runs: list[LoadRun] = field(default_factory=list)
    floors: list[FloorRun] = field(default_factory=list)
    profiles: list[RequestProfile] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    vacuum_seconds: float = 0.0
    limiter: str = "PostgreSQL"
    prepare_threshold: str = "5"
