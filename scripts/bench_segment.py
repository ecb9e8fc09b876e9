"""Time one training segment (forward + backward of one ACT call) of HRM-ACT-v1.

    hrm bench segment                       # the reference size: hidden 256, 4+4 layers, 2x2 cycles
    hrm bench segment --batch-size 64 --attn eager --device cuda --dtype bfloat16

Prints the median and spread over `--repeats` timed segments after `--warmup` untimed ones.
"""

import argparse
import statistics
import time

import torch

from ..configuration_hrm import HrmActConfig
from ..modeling_hrm import HrmActModel
from .cli import HelpFormatter


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--hidden-size", type=int, default=256, help="Model width.")
    parser.add_argument("--num-heads", type=int, default=4, help="Attention heads.")
    parser.add_argument("--layers", type=int, default=4, help="Blocks in each of the H and L modules.")
    parser.add_argument("--cycles", type=int, default=2, help="H_cycles and L_cycles.")
    parser.add_argument("--seq-len", type=int, default=81, help="Tokens per puzzle.")
    parser.add_argument("--vocab-size", type=int, default=11, help="Vocabulary size.")
    parser.add_argument("--batch-size", type=int, default=32, help="Rows per segment.")
    parser.add_argument(
        "--dtype", default="float32", choices=["float32", "bfloat16", "float16"], help="forward_dtype."
    )
    parser.add_argument("--attn", default=None, help="attn_implementation (default: the model's choice).")
    parser.add_argument("--device", default="cpu", help="Device to run on.")
    parser.add_argument("--compile", action="store_true", help="Time a torch.compile'd model.")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's).")
    parser.add_argument("--warmup", type=int, default=3, help="Untimed segments first.")
    parser.add_argument("--repeats", type=int, default=20, help="Timed segments.")
    return parser.parse_args(argv)


def build_model(args: argparse.Namespace) -> HrmActModel:
    config = HrmActConfig(
        vocab_size=args.vocab_size, seq_len=args.seq_len, num_puzzle_identifiers=1, hidden_size=args.hidden_size,
        num_heads=args.num_heads, H_layers=args.layers, L_layers=args.layers, H_cycles=args.cycles,
        L_cycles=args.cycles, forward_dtype=args.dtype, halt_max_steps=16, halt_exploration_prob=0.1,
    )  # fmt: skip
    model = HrmActModel._from_config(config, attn_implementation=args.attn)
    return model.to(args.device).train()


def time_segments(model, args: argparse.Namespace) -> list[float]:
    generator = torch.Generator().manual_seed(0)
    shape = (args.batch_size, args.seq_len)
    batch = {
        "input_ids": torch.randint(0, args.vocab_size, shape, generator=generator).to(args.device),
        "labels": torch.randint(0, args.vocab_size, shape, generator=generator).to(args.device),
        "puzzle_identifiers": torch.zeros(args.batch_size, dtype=torch.int32, device=args.device),
    }
    step = torch.compile(model) if args.compile else model
    carry, times = None, []
    for i in range(args.warmup + args.repeats):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = step(**batch, carry=carry)
        out.loss.backward()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
        carry = out.carry
        model.zero_grad(set_to_none=True)
    return times


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = build_model(args)
    times = time_segments(model, args)
    print(
        f"HRM segment fwd+bwd | hidden={args.hidden_size} layers={args.layers}+{args.layers} cycles={args.cycles}x{args.cycles} "
        f"seq_len={args.seq_len} batch={args.batch_size} dtype={args.dtype} attn={model.config._attn_implementation} "
        f"device={args.device} threads={torch.get_num_threads()} compile={args.compile}"
    )
    print(
        f"median {1000 * statistics.median(times):.1f} ms | min {1000 * min(times):.1f} ms | "
        f"max {1000 * max(times):.1f} ms over {len(times)} segments"
    )


if __name__ == "__main__":
    main()
