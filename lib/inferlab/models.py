"""The model catalogue: transformer shapes from published configuration files.

Shapes live in ``data/models.json`` (each entry names its config file). Parameter
counts are computed from the shapes, never copied, and a test compares them with
the published counts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from . import _lookup
from ._validate import positive


def _whole(value, name: str, *, allow_zero: bool = False) -> int:
    """A validated whole number as a Python int (no numpy int32 overflow in the products)."""
    result = positive(value, name, integer=True, allow_zero=allow_zero)
    if not isinstance(result, float):
        raise ValueError(f"{name} must be one whole number, got an array")
    return int(result)


def expected_experts_touched(experts, top_k, tokens):
    """Expected number of distinct experts hit when each of ``tokens`` tokens picks
    ``top_k`` of ``experts`` experts uniformly at random, independently of the others:
    E (1 - (1 - k/E)^T). (One token misses a given expert with probability 1 - k/E.)

    The course's one routing assumption, used for a whole model's decode step
    (``Model.experts_touched``) and for one MoE layer (``batching.moe_layer_step``). It is
    an *expectation*, not a bound: a real router can touch more experts than this (at most
    min(E, T k), as perfectly balanced routing does) or fewer (popular experts).
    Example: DeepSeek-V3 (E = 256, k = 8) at T = 4 tokens: 256 (1 - (31/32)^4) = 30.5, where
    balanced routing touches 32.
    """
    experts = positive(experts, "experts", integer=True)
    top_k = positive(top_k, "top_k", integer=True)
    tokens = positive(tokens, "tokens")
    if np.any(np.asarray(top_k) > experts):
        raise ValueError(f"top_k ({top_k}) cannot exceed experts ({experts})")
    return experts * (1.0 - (1.0 - top_k / experts) ** tokens)


@dataclass(frozen=True)
class MoE:
    """Mixture-of-experts feed-forward: ``experts`` routed experts, ``top_k`` per token."""

    experts: int
    top_k: int
    expert_ffn: int
    shared_experts: int = 0
    shared_ffn: int = 0
    dense_layers: int = 0

    def __post_init__(self):
        for name in ("experts", "top_k", "expert_ffn", "shared_experts", "shared_ffn", "dense_layers"):
            optional = name in ("shared_experts", "shared_ffn", "dense_layers")
            object.__setattr__(self, name, _whole(getattr(self, name), f"moe.{name}", allow_zero=optional))
        if self.shared_experts and not self.shared_ffn:
            raise ValueError(f"moe.shared_ffn must be positive when moe.shared_experts is {self.shared_experts}")
        if self.top_k > self.experts:
            raise ValueError(f"moe.top_k ({self.top_k}) cannot exceed moe.experts ({self.experts})")


@dataclass(frozen=True)
class MLA:
    """Multi-head latent attention (DeepSeek-V2/V3): a compressed KV latent per token."""

    kv_lora_rank: int
    qk_rope_head_dim: int
    qk_nope_head_dim: int
    v_head_dim: int
    q_lora_rank: int = 0

    def __post_init__(self):
        for name in ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim", "q_lora_rank"):
            object.__setattr__(self, name, _whole(getattr(self, name), f"mla.{name}",
                                                  allow_zero=name == "q_lora_rank"))


@dataclass(frozen=True)
class Model:
    """A decoder-only transformer's shape. Counts are parameters; bytes depend on precision."""

    name: str
    layers: int
    d_model: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    mlp: str = "gated"
    tied_embeddings: bool = False
    attention: str = "gqa"
    max_context: int = 0
    moe: MoE | None = None
    mla: MLA | None = None
    aliases: tuple = ()
    config_source: str = ""
    published_total_params: float = 0.0
    published_active_params: float = 0.0
    params_source: str = ""
    notes: str = ""

    def __post_init__(self):
        for name in ("layers", "d_model", "heads", "kv_heads", "head_dim", "ffn", "vocab"):
            object.__setattr__(self, name, _whole(getattr(self, name), name))
        object.__setattr__(self, "max_context", _whole(self.max_context, "max_context", allow_zero=True))
        if self.kv_heads > self.heads:
            raise ValueError(f"kv_heads ({self.kv_heads}) cannot exceed heads ({self.heads})")
        if self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads}): "
                             "each KV head serves a whole group of query heads")
        for name, kind in (("moe", MoE), ("mla", MLA)):
            value = getattr(self, name)
            if isinstance(value, dict):
                try:
                    value = kind(**value)
                except TypeError as error:
                    raise ValueError(f"{name} must be an {kind.__name__} or a dict of its fields "
                                     f"({error})") from None
                object.__setattr__(self, name, value)
            elif value is not None and not isinstance(value, kind):
                raise ValueError(f"{name} must be an {kind.__name__}, a dict of its fields or None, got {value!r}")
        if self.moe is not None and self.moe.dense_layers > self.layers:
            raise ValueError(f"moe.dense_layers ({self.moe.dense_layers}) cannot exceed layers ({self.layers})")
        if self.mlp not in ("gated", "plain"):
            raise ValueError(f"mlp must be 'gated' or 'plain', got {self.mlp!r}")
        if self.attention not in ("mha", "gqa", "mqa", "mla"):
            raise ValueError(f"attention must be mha, gqa, mqa or mla, got {self.attention!r}")
        if (self.attention == "mla") != (self.mla is not None):
            raise ValueError("attention 'mla' needs mla dimensions, and only it has them")

    # --- parameters -------------------------------------------------------------------
    @property
    def attention_params_per_layer(self) -> int:
        """Weights of one layer's attention projections (q, k, v, o or their MLA form)."""
        d, h = self.d_model, self.heads
        if self.mla is None:
            return d * h * self.head_dim * 2 + 2 * d * self.kv_heads * self.head_dim
        m = self.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        q = d * m.q_lora_rank + m.q_lora_rank * h * qk if m.q_lora_rank else d * h * qk
        kv = d * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank * h * (
            m.qk_nope_head_dim + m.v_head_dim
        )
        return q + kv + h * m.v_head_dim * d

    @property
    def _matrices(self) -> int:
        return 3 if self.mlp == "gated" else 2

    @property
    def dense_mlp_params(self) -> int:
        """Weights of one dense feed-forward block of width ``ffn``."""
        return self._matrices * self.d_model * self.ffn

    @property
    def expert_params(self) -> int:
        """Weights of one routed expert in one layer (0 for a dense model)."""
        return 3 * self.d_model * self.moe.expert_ffn if self.moe else 0

    @property
    def moe_layers(self) -> int:
        """Number of layers whose feed-forward block is a mixture of experts."""
        return self.layers - self.moe.dense_layers if self.moe else 0

    @property
    def dense_layers(self) -> int:
        """Number of layers with a dense feed-forward block."""
        return self.layers - self.moe_layers

    @property
    def _always_on_moe_params(self) -> int:
        """Shared experts and router of one MoE layer: read for every token."""
        if not self.moe:
            return 0
        m = self.moe
        return m.shared_experts * 3 * self.d_model * m.shared_ffn + self.d_model * m.experts

    @property
    def embedding_params(self) -> int:
        """The input embedding table (a look-up: a step reads only the rows it needs)."""
        return self.vocab * self.d_model

    @property
    def head_params(self) -> int:
        """The output projection to the vocabulary (shared with the embedding when tied)."""
        return self.vocab * self.d_model

    @property
    def dense_params(self) -> int:
        """Weights every token uses through a matrix product: all but routed experts and the
        embedding look-up (attention, dense and shared feed-forward, routers, output head)."""
        return (
            self.layers * self.attention_params_per_layer
            + self.dense_layers * self.dense_mlp_params
            + self.moe_layers * self._always_on_moe_params
            + self.head_params
        )

    @property
    def total_params(self) -> int:
        """All parameters (embedding table once more unless tied)."""
        routed = self.moe_layers * self.moe.experts * self.expert_params if self.moe else 0
        lookup = 0 if self.tied_embeddings else self.embedding_params
        return self.dense_params + routed + lookup

    @property
    def active_params(self) -> int:
        """Parameters one token uses, as model cards count them (embedding table included)."""
        lookup = 0 if self.tied_embeddings else self.embedding_params
        return self.matmul_params + lookup

    @property
    def matmul_params(self) -> int:
        """Parameters one token multiplies with: ``2 x matmul_params`` FLOPs per token."""
        routed = self.moe_layers * self.moe.top_k * self.expert_params if self.moe else 0
        return self.dense_params + routed

    @property
    def is_moe(self) -> bool:
        return self.moe is not None

    @property
    def sparsity(self) -> float:
        """Total parameters / active parameters (1 for a dense model)."""
        return self.total_params / self.active_params

    def experts_touched(self, tokens):
        """Expected number of distinct routed experts per MoE layer hit by ``tokens`` tokens,
        each choosing ``top_k`` of ``experts`` uniformly at random: E (1 - (1 - k/E)^T).

        An expectation, not a bound (see ``expected_experts_touched``)."""
        tokens = positive(tokens, "tokens")
        if not self.moe:
            return np.zeros_like(tokens) if isinstance(tokens, np.ndarray) else 0.0
        return expected_experts_touched(self.moe.experts, self.moe.top_k, tokens)

    def weight_params_read(self, tokens):
        """Parameters a step over ``tokens`` tokens must read from memory: the dense part,
        the routed experts those tokens touch, and one embedding row per token."""
        tokens = positive(tokens, "tokens")
        routed = self.moe_layers * self.experts_touched(tokens) * self.expert_params
        rows = 0 if self.tied_embeddings else np.minimum(tokens, self.vocab) * self.d_model
        return self.dense_params + routed + rows

    # --- KV cache and attention -----------------------------------------------------------
    @property
    def kv_values_per_token(self) -> int:
        """Numbers cached per token over all layers (K and V, or MLA's latent + rope key)."""
        if self.mla is not None:
            return self.layers * (self.mla.kv_lora_rank + self.mla.qk_rope_head_dim)
        return self.layers * 2 * self.kv_heads * self.head_dim

    def kv_bytes_per_token(self, bytes_per_value=2):
        """KV-cache bytes one token of context occupies (all layers)."""
        return self.kv_values_per_token * positive(bytes_per_value, "kv_bytes (bytes_per_value)")

    @property
    def decode_attention_flops_per_position(self) -> int:
        """FLOPs for one new token to attend to one cached position, all layers.

        Standard attention: scores (2 x head_dim) and weighted values (2 x head_dim) per
        query head. MLA in its absorbed decode form works on the latent directly.
        """
        if self.mla is not None:
            m = self.mla
            per_head = 2 * (m.kv_lora_rank + m.qk_rope_head_dim) + 2 * m.kv_lora_rank
        else:
            per_head = 4 * self.head_dim
        return self.layers * self.heads * per_head

    @property
    def prefill_attention_flops_per_pair(self) -> int:
        """FLOPs for one (query, key) pair in prefill, all layers (MLA un-absorbed)."""
        if self.mla is not None:
            m = self.mla
            per_head = 2 * (m.qk_nope_head_dim + m.qk_rope_head_dim) + 2 * m.v_head_dim
        else:
            per_head = 4 * self.head_dim
        return self.layers * self.heads * per_head


def _from_dict(entry: dict) -> Model:
    entry = dict(entry)
    moe = entry.pop("moe", None)
    mla = entry.pop("mla", None)
    entry["aliases"] = tuple(entry.get("aliases", ()))
    return Model(moe=MoE(**moe) if moe else None, mla=MLA(**mla) if mla else None, **entry)


@lru_cache(maxsize=None)
def _catalogue() -> dict:
    text = resources.files("inferlab").joinpath("data/models.json").read_text(encoding="utf-8")
    return _lookup.index(_from_dict(entry) for entry in json.loads(text))


def get_model(name) -> Model:
    """Return the catalogue entry for ``name`` (forgiving case, spaces, '-' and '_').

    A ``Model`` passed in is returned as it is.
    """
    if isinstance(name, Model):
        return name
    return _lookup.find(name, _catalogue(), "model")


def list_models() -> list:
    """Canonical names of every model in the catalogue, in catalogue order."""
    return list(dict.fromkeys(model.name for model in _catalogue().values()))
