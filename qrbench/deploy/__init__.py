"""Deployment of the system under test: the embedded reference service (one process or `--workers N`), N
instances on their own ports, nginx in front of them, or a URL given by the user.

Studies get a running target from here and reach it over HTTP only. deploy/ imports target/, load.safety and
monitor/ (to find a local server's process), never studies/.
"""

from .embedded import engine_settings, started_targets, wait_all_ready
from .nginx import NginxBalancer, find_nginx, nginx_config
from .probe import NotAContractService, TargetProbe, check_contract, probe_from_facts, probe_target
from .target import Target, TargetParams, open_target, settings_dict, target_facts

__all__ = [
    "TargetParams",
    "Target",
    "open_target",
    "target_facts",
    "settings_dict",
    "engine_settings",
    "started_targets",
    "wait_all_ready",
    "NginxBalancer",
    "find_nginx",
    "nginx_config",
    "TargetProbe",
    "NotAContractService",
    "probe_target",
    "check_contract",
    "probe_from_facts",
]
