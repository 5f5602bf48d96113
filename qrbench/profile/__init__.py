"""Profilers of the reference service: where the time and the memory of a rerank go.

In-process (through the engine's public pieces): `measure_components` (component breakdown),
`measure_cold_start`, `shot_noise`, `line_profile`, `memory_by_documents`, `line_memory`,
`allocation_sites`, `gc_pauses`, `call_profile`. Against a running service: `measure_http` and
`measure_codec` (what a request costs outside the engine), `PySpySampler` (stacks under load), and for any
service, `measure_request_costs` (latency by request kind and size, payload sizes).
Every profiler returns tidy pandas frames; the bottlenecks study analyses them.
"""

from .calls import CallProfile, call_profile, render_tree
from .components import (
    COMPONENTS,
    DOCUMENTS,
    TOTAL,
    UNATTRIBUTED,
    RerankInput,
    Scenario,
    load_embedder,
    measure_cold_start,
    measure_components,
    scenario_grid,
)
from .http import CODEC_PARTS, measure_codec, measure_http
from .lines import CLASSICAL_FALLBACK, LINE_COLUMNS, QUANTUM_PATH, line_profile
from .memory import allocation_sites, gc_pauses, line_memory, memory_by_documents, release_free_memory
from .outside import COST_COLUMNS, measure_request_costs
from .sampling import ACTIVITIES, PySpySampler, classify_stacks, parse_raw, py_spy_available, thread_role
from .shots import shot_noise

__all__ = [
    "measure_request_costs",
    "COST_COLUMNS",
    "RerankInput",
    "Scenario",
    "scenario_grid",
    "measure_components",
    "measure_cold_start",
    "load_embedder",
    "COMPONENTS",
    "TOTAL",
    "UNATTRIBUTED",
    "DOCUMENTS",
    "measure_http",
    "measure_codec",
    "CODEC_PARTS",
    "line_profile",
    "QUANTUM_PATH",
    "CLASSICAL_FALLBACK",
    "LINE_COLUMNS",
    "memory_by_documents",
    "line_memory",
    "allocation_sites",
    "gc_pauses",
    "release_free_memory",
    "CallProfile",
    "call_profile",
    "render_tree",
    "PySpySampler",
    "py_spy_available",
    "parse_raw",
    "classify_stacks",
    "thread_role",
    "ACTIVITIES",
    "shot_noise",
]
