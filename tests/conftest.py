"""One torch thread for every test process: the models are tiny, and on a shared 2-core machine a second
intra-op thread spinning beside the app server under test made steps 20x slower."""

import torch

torch.set_num_threads(1)
