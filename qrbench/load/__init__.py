"""Load generation: workload models, the driver, per-request records, and target safety.

The public names of the load package.
"""

from qrbench.load.data import (
    DEFAULT_DATA_DIR,
    KINDS,
    LENGTHS,
    MAX_TEXT_CHARS,
    METHODS,
    DataManager,
    DayProfile,
    Document,
    Query,
    RequestKind,
    RequestPool,
    UserProfile,
)
from qrbench.load.delay_proxy import start_delay_proxy
from qrbench.load.driver import (
    CPU_SATURATION_PERCENT,
    DEFAULT_TRANSPORT,
    CycleSource,
    RunResult,
    cycle_source,
    run_load,
    run_load_processes,
)
from qrbench.load.records import (
    ERROR_KINDS,
    RECORD_COLUMNS,
    RECORD_SCHEMA,
    RecordWriter,
    dropped_record,
    finalize_run,
    load_records,
    load_run_info,
    request_record,
    response_outcome,
    write_run_info,
)
from qrbench.load.request import ENDPOINTS, RequestSpec, with_new_query
from qrbench.load.safety import check_scenario_target, check_target
from qrbench.load.shapes import PHASE_KINDS, Phase, Shape, bursts, label_phases, ramp_steady, realistic_day, spike
from qrbench.load.stub_server import start_stub_server
from qrbench.load.transport import (
    TRANSPORTS,
    AiohttpTransport,
    HttpxTransport,
    Transport,
    classify_exception,
    make_transport,
)
from qrbench.load.workload import DEFAULT_MAX_REQUESTS, ClosedModel, OpenModel, Sessions, ThinkTime, arrival_times

__all__ = [
    # request.py
    "RequestSpec",
    "ENDPOINTS",
    "with_new_query",
    # workload.py
    "ClosedModel",
    "OpenModel",
    "ThinkTime",
    "Sessions",
    "arrival_times",
    "DEFAULT_MAX_REQUESTS",
    # shapes.py
    "Shape",
    "Phase",
    "PHASE_KINDS",
    "ramp_steady",
    "spike",
    "bursts",
    "realistic_day",
    "label_phases",
    # driver.py
    "run_load",
    "run_load_processes",
    "RunResult",
    "CycleSource",
    "cycle_source",
    "DEFAULT_TRANSPORT",
    "CPU_SATURATION_PERCENT",
    # records.py
    "RECORD_SCHEMA",
    "RECORD_COLUMNS",
    "ERROR_KINDS",
    "RecordWriter",
    "finalize_run",
    "load_records",
    "load_run_info",
    "write_run_info",
    "response_outcome",
    "request_record",
    "dropped_record",
    # safety.py
    "check_target",
    "check_scenario_target",
    # transport.py
    "Transport",
    "AiohttpTransport",
    "HttpxTransport",
    "TRANSPORTS",
    "make_transport",
    "classify_exception",
    # stub_server.py
    "start_stub_server",
    # delay_proxy.py
    "start_delay_proxy",
    # data.py
    "DataManager",
    "RequestPool",
    "RequestKind",
    "Document",
    "Query",
    "UserProfile",
    "DayProfile",
    "KINDS",
    "METHODS",
    "LENGTHS",
    "MAX_TEXT_CHARS",
    "DEFAULT_DATA_DIR",
]
