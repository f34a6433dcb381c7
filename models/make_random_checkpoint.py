"""Write a checkpoint in the users' format with seeded random weights, to test the exporter end to end.

    python3 models/make_random_checkpoint.py OUT.pt [--win 60] [--hidden 32] [--layers 2] [--events a,b,c]

Defaults: F = 169, window 60, five events (one with a Korean name), hidden 32, 2 bidirectional layers.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lstm_model import LstmAnomalyModel  # noqa: E402

DEFAULT_EVENTS = "fall,lying_still,flailing,loitering,낙상"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--win", type=int, default=60)
    ap.add_argument("--feat", type=int, default=169)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--unidirectional", action="store_true")
    ap.add_argument("--events", default=DEFAULT_EVENTS)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    events = args.events.split(",")
    model = LstmAnomalyModel(args.feat, hidden_dim=args.hidden, num_layers=args.layers,
                             num_out=len(events), bidirectional=not args.unidirectional)
    # default init gives near-0.5 scores everywhere; wider weights make the parity check discriminating
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    norm_mean = torch.randn(args.feat) * 0.5
    norm_std = torch.rand(args.feat) * 2.0 + 0.1
    thresholds = torch.linspace(0.3, 0.7, len(events))
    ckpt = {
        "state_dict": model.state_dict(),
        "meta": {"events": events, "win": args.win, "norm_mean": norm_mean.tolist(),
                 "norm_std": norm_std.tolist(), "fps": 30},
        "thresholds": [round(float(t), 4) for t in thresholds],
    }
    torch.save(ckpt, args.out)
    print(f"wrote {args.out}: events {events}, window {args.win}, features {args.feat}, hidden {args.hidden}")


if __name__ == "__main__":
    main()
