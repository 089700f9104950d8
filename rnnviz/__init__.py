"""rnnviz: see how recurrent networks remember and forget.

from rnnviz import Model, ModelConfig, Vocab, trace, gradient_flow, from_torch
"""

from .errors import CheckpointError, ConfigError, InputError, RnnvizError
from .gradients import GradFlow, gradient_flow
from .init import InitConfig
from .model import Model, ModelConfig, from_torch
from .trace import Trace, trace
from .vocab import UNK, CharVocab, Vocab

__all__ = [
    "UNK",
    "CharVocab",
    "GradFlow",
    "gradient_flow",
    "CheckpointError",
    "ConfigError",
    "InitConfig",
    "InputError",
    "Model",
    "ModelConfig",
    "RnnvizError",
    "Trace",
    "Vocab",
    "from_torch",
    "trace",
]
