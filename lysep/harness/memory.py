"""How much memory a sweep needs, estimated before any work, and how much the machine has.

A unit of work (one method on one grid cell, all seeds batched) holds the data, the evaluation
chunk of the harness (``lysep.core.chunks``) and what its method declares it holds
(``Method.memory``: for the layer-separation methods mostly ``U``, ``N x (sum of the layers' widths)``
per seed). ``lysep run`` and ``lysep check`` refuse a spec whose largest unit would not fit in the
memory available now (docs/spec.md, "Memory"). Nothing here imports torch at import time.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from lysep.core.choices import EVAL_BYTES
from lysep.methods.base import Footprint, Method

#: bytes of the process itself before any tensor: the Python interpreter, torch's libraries, pandas, and the
#: allocator's slack (600 MiB let tests/test_memory.py's minibatch cell peak 3 MiB above its estimate once, at 1,772
#: MiB, when the package imported more modules; the imports alone hold 285 MiB)
RUNTIME_BYTES = 640 * 2**20
#: copies of the data a run holds: the loaded arrays and the tensors made from them
DATA_COPIES = 2
BYTES_PER_ITEM = {"float32": 4, "float64": 8}


@dataclass(frozen=True)
class Estimate:
    """Bytes one unit needs, with its parts, and which unit it is."""

    total: int
    data: int
    method: int
    label: str
    depth: int
    width: int
    seeds: int


def footprint(model) -> Footprint:
    """Per-seed sizes of a network (``ModelSpec`` or ``ConvSpec``): parameters and one sample's activations."""
    if hasattr(model, "map_shapes"):  # a CNN: 3x3 kernels, then the dense classifier
        params, c_in = 0, model.image_shape[0]
        for c in model.channels:
            params += (9 * c_in + 1) * c
            c_in = c
        params += (model.features + 1) * model.n_classes
        maps = sum(math.prod(shape) for shape in model.map_shapes)
        unpooled = sum(4 * math.prod(shape) for shape, pooled in zip(model.map_shapes, model.pools) if pooled)
        return Footprint(params, maps + unpooled + model.n_classes)  # a pooled layer's conv output is 4x its map
    dims = model.dims
    return Footprint(sum((a + 1) * b for a, b in zip(dims[:-1], dims[1:])), sum(dims[1:]))


def data_bytes(arrays, itemsize: int) -> int:
    """The data as the run holds it: every array of the split, ``DATA_COPIES`` times, at ``itemsize`` bytes."""
    return DATA_COPIES * sum(int(a.size) for a in arrays) * itemsize


def unit_bytes(method: Method, model, n_train: int, seeds: int, itemsize: int) -> int:
    """What one unit needs beyond the data: the method's state and iteration, and one evaluation chunk."""
    return int(seeds * itemsize * method.memory(n_train, footprint(model))) + EVAL_BYTES


def available_bytes(device: str = "cpu") -> int:
    """Memory free for a new run now: ``MemAvailable`` of /proc/meminfo (or the free pages the OS reports)
    on the CPU, the free memory of the device for CUDA."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def gib(n: float) -> str:
    """Bytes as GiB (or MiB below one GiB), for messages."""
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def check_fits(estimate: Estimate, available: int) -> None:
    """ValueError naming the largest unit, its estimate and its parts, if it needs more than ``available``."""
    if estimate.total <= available:
        return
    raise ValueError(
        f"memory: the largest unit of work (method {estimate.label!r} at depth {estimate.depth}, width "
        f"{estimate.width}, {estimate.seeds} seeds batched) needs about {gib(estimate.total)} (data "
        f"{gib(estimate.data)}, method state {gib(estimate.method)}, runtime {gib(RUNTIME_BYTES)}), but "
        f"{gib(available)} are available; use fewer seeds (grid.seeds or --seeds), a smaller data.n_train, "
        "a smaller network, or a minibatch method (docs/spec.md, \"Memory\")")


def largest_unit(methods: dict[str, Method], models: dict[tuple[int, int], object], arrays, n_train: int,
                 seeds: int, dtype: str) -> Estimate:
    """The unit (method x cell) that needs the most memory, with its total: runtime + data + unit."""
    itemsize = BYTES_PER_ITEM[dtype]
    data = data_bytes(arrays, itemsize)
    need = [(unit_bytes(m, model, n_train, seeds, itemsize), label, cell)
            for cell, model in models.items() for label, m in methods.items()]
    most, label, (depth, width) = max(need, key=lambda t: t[0])
    return Estimate(RUNTIME_BYTES + data + most, data, most, label, depth, width, seeds)
