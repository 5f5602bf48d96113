"""The reference QuantumRerank service: the embedded default system under test.

It knows nothing of the rest of qrbench; the rest reaches it over HTTP or through `RerankEngine`.
"""

from .engine import RerankEngine, Scores
from .server import EmbeddedTarget, serve
from .settings import BACKENDS, METHODS, EngineSettings

__all__ = ["RerankEngine", "Scores", "EmbeddedTarget", "serve", "EngineSettings", "METHODS", "BACKENDS"]
