"""Simulator settings for the GPU tests (read when ``fasthinge._cuda`` is first imported).

Blocks of 32 threads and at most 2 blocks: tiny inputs then take several
grid-stride trips and several rows per block, and the simulator stays fast.
"""

import os

os.environ.setdefault("FASTHINGE_CUDA_THREADS", "32")
os.environ.setdefault("FASTHINGE_CUDA_MAX_BLOCKS", "2")
