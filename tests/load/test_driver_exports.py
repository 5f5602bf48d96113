"""qrbench.load exports every public name of the driver modules."""

import importlib

import qrbench.load

MODULES = ["data", "driver", "records", "request", "safety", "stub_server", "transport", "workload"]


def test_every_public_name_is_exported():
    for name in MODULES:
        module = importlib.import_module(f"qrbench.load.{name}")
        missing = set(module.__all__) - set(qrbench.load.__all__)
        assert not missing, f"qrbench.load does not export {sorted(missing)} from {name}.py"
    for name in qrbench.load.__all__:
        assert hasattr(qrbench.load, name), name
