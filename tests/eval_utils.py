"""Small models and data shared by the evaluation tests."""

import torch

from hrm_hf.configuration_hrm import HrmActConfig
from hrm_hf.modeling_hrm import HrmActModel


def tiny_model(
    seq_len: int = 16,
    vocab_size: int = 6,
    num_puzzle_identifiers: int = 3,
    halt_max_steps: int = 4,
    q_std: float = 0.3,
    halt_bias: float = -2.5,
    seed: int = 0,
) -> HrmActModel:
    """A random float32 model whose Q head (weights drawn with `q_std`, halt logit shifted by `halt_bias`) halts some
    rows early and lets others run to `halt_max_steps`."""
    torch.manual_seed(seed)
    config = HrmActConfig(
        seq_len=seq_len, vocab_size=vocab_size, num_puzzle_identifiers=num_puzzle_identifiers, hidden_size=32,
        num_heads=2, H_layers=1, L_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=halt_max_steps,
        forward_dtype="float32",
    )  # fmt: skip
    model = HrmActModel(config).eval()
    with torch.no_grad():
        torch.nn.init.normal_(model.q_head.weight, std=q_std)
        model.q_head.bias.copy_(torch.tensor([halt_bias, 0.0]))
        model.puzzle_emb.weight.normal_()
    return model
