"""Torch building blocks: input standardisation and (ensembles of) fully connected networks.

An *ensemble* of ``M`` independent networks of equal shape is evaluated in one pass: every layer
holds weights of shape ``[M, in, out]`` and uses one batched matrix product. The members share no
parameters, so their training is exactly that of ``M`` separate networks (summed losses have
disjoint gradients), while the cost is that of one wide network. The ONNX graph is plain
``MatMul``/``Add``.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import torch
from torch import nn

from rooeft.nn._common import NetworkConfig

__all__ = ["EnsembleLinear", "EnsembleMLP", "Standardize", "make_activation"]


def make_activation(name: str) -> nn.Module:
    """The torch module of an activation named in :data:`rooeft.nn.ACTIVATIONS`."""
    table: dict[str, type[nn.Module]] = {
        "relu": nn.ReLU,
        "silu": nn.SiLU,
        "tanh": nn.Tanh,
        "gelu": nn.GELU,
        "elu": nn.ELU,
        "softplus": nn.Softplus,
        "leaky_relu": nn.LeakyReLU,
    }
    if name not in table:
        raise ValueError(f"activation must be one of {sorted(table)}, got {name!r}")
    return table[name]()


class Standardize(nn.Module):
    """``(x - mean) / scale`` with constants fixed at construction (part of the exported graph)."""

    mean: torch.Tensor
    inv_scale: torch.Tensor

    def __init__(self, mean: np.ndarray, scale: np.ndarray) -> None:
        super().__init__()
        scale = np.where(np.asarray(scale) > 0, scale, 1.0)
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32))
        self.register_buffer("inv_scale", torch.as_tensor(1.0 / np.asarray(scale), dtype=torch.float32))

    @classmethod
    def from_data(cls, x: np.ndarray, rows: np.ndarray, max_rows: int = 200_000) -> Standardize:
        """Mean and standard deviation of ``x[rows]`` (a seeded subsample of at most ``max_rows``)."""
        if rows.size > max_rows:
            rows = np.sort(np.random.default_rng(12345).choice(rows, size=max_rows, replace=False))
        sub = np.asarray(x[rows], dtype=np.float64)
        return cls(sub.mean(axis=0), sub.std(axis=0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) * self.inv_scale


class EnsembleLinear(nn.Module):
    """``M`` independent affine maps: ``[M or 1, B, in] -> [M, B, out]``."""

    def __init__(self, members: int, n_in: int, n_out: int, generator: torch.Generator) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)  # the nn.Linear default initialisation
        weight = (torch.rand(members, n_in, n_out, generator=generator) * 2 - 1) * bound
        bias = (torch.rand(members, 1, n_out, generator=generator) * 2 - 1) * bound
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.matmul(h, self.weight) + self.bias


class EnsembleMLP(nn.Module):
    """``M`` independent MLPs on the same (already standardised) input: ``[B, d] -> [M, B, out]``."""

    def __init__(
        self, n_in: int, n_out: int, config: NetworkConfig, *, members: int = 1, generator: torch.Generator
    ) -> None:
        super().__init__()
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        self.members = members
        self.n_out = n_out
        layers: list[nn.Module] = []
        width_in = n_in
        for _ in range(config.hidden_layers):
            layers += [EnsembleLinear(members, width_in, config.width, generator), make_activation(config.activation)]
            width_in = config.width
        last = EnsembleLinear(members, width_in, n_out, generator)
        # Start close to the trivial answer (zero output): small last layer.
        with torch.no_grad():
            last.weight.mul_(0.1)
            last.bias.zero_()
        layers.append(last)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self.layers(x.unsqueeze(0)))
