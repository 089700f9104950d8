"""rnnviz: see how recurrent networks remember and forget.

from rnnviz import Model, ModelConfig, Vocab, trace, gradient_flow, bptt, from_torch, from_keras, from_state_dict
from rnnviz import memory_capacity
"""

from .bptt import Backprop, bptt
from .checkpoint import load as load_checkpoint
from .checkpoint import save as save_checkpoint
from .errors import CheckpointError, ConfigError, InputError, RnnvizError
from .gradients import GradFlow, gradient_flow, step_norms
from .init import InitConfig
from .keras_io import from_keras
from .model import ImportedModel, Model, ModelConfig, from_torch
from .reservoir import MemoryCapacity, fit_readout, memory_capacity
from .state_dict import from_state_dict
from .tasks import TASKS, make_task
from .trace import Trace, trace
from .train import Trainer
from .vocab import UNK, CharVocab, Vocab

__all__ = [
    "TASKS",
    "Backprop",
    "bptt",
    "Trainer",
    "load_checkpoint",
    "make_task",
    "save_checkpoint",
    "UNK",
    "CharVocab",
    "GradFlow",
    "MemoryCapacity",
    "fit_readout",
    "memory_capacity",
    "gradient_flow",
    "step_norms",
    "CheckpointError",
    "ConfigError",
    "InitConfig",
    "InputError",
    "Model",
    "ModelConfig",
    "RnnvizError",
    "Trace",
    "Vocab",
    "from_keras",
    "from_state_dict",
    "from_torch",
    "ImportedModel",
    "trace",
]
