"""Train the bundled pose model on synthetic windows, then export it.

    npx tsx models/make-dataset.ts          # writes models/.work/ (the generator is the one data source)
    python3 models/train.py [--epochs 12]   # writes models/behavior_lstm.pt, then runs the exporter

The window length is the dataset's (dataset.json `window`, set by make-dataset.ts --window); the
checkpoint's meta.win is that length. Another model trains from its own data folder to its own file:

    npx tsx models/make-dataset.ts --window 60 --out models/.work/w60 ...
    python3 models/train.py --data models/.work/w60 --out models/behavior_lstm_w60.pt --hidden 64 ...

The recipe is the users' trainer's: LstmAnomalyModel(F, 128, 2 layers, bidirectional), AdamW lr 2e-3
(here with a cosine decay), batch 64, BCE with pos_weight = clamp(neg/pos, 1, 100), positives drawn 4x
as often, the epoch with the lowest validation loss kept, per-event thresholds at the best validation F1. Seeded and single-threaded,
so the same data gives the same checkpoint. Test-split precision / recall / F1 go into models/README.md.
"""

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lstm_model import LstmAnomalyModel  # noqa: E402

STD_FLOOR = 1e-3  # a feature that barely varies in training must not blow up at inference
DEFAULT_OUT = os.path.join(HERE, "behavior_lstm.pt")
DEFAULT_NAME = "behavior_lstm"


def load_split(data_dir: str, split: str, meta: dict):
    n = meta["splits"][split]["windows"]
    x = np.fromfile(os.path.join(data_dir, f"{split}.x.f32"), dtype="<f4").reshape(n, meta["window"], meta["feature_dim"])
    y = np.fromfile(os.path.join(data_dir, f"{split}.y.u8"), dtype=np.uint8).reshape(n, len(meta["events"]))
    return x, y.astype(np.float32)


def best_f1_threshold(y_true: np.ndarray, score: np.ndarray) -> float:
    """Threshold with the best F1 (score >= threshold is positive), midway to the next lower score."""
    if y_true.sum() == 0:
        return 0.5
    order = np.argsort(-score, kind="stable")
    s, y = score[order], y_true[order]
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y)
    last = np.r_[s[1:] != s[:-1], True]  # only cut between distinct scores
    f1 = np.where(last, 2 * tp / (tp + fp + y.sum()), -1)
    i = int(np.argmax(f1))
    return float(s[i] if i + 1 == len(s) else (s[i] + s[i + 1]) / 2)


def prf(y_true: np.ndarray, pred: np.ndarray) -> dict:
    tp = float((pred * y_true).sum())
    fp = float((pred * (1 - y_true)).sum())
    fn = float(((1 - pred) * y_true).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "positives": int(y_true.sum()), "windows": len(y_true)}


def predict(model: nn.Module, x: torch.Tensor, batch: int = 512) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return torch.cat([torch.sigmoid(model(x[i:i + batch])) for i in range(0, len(x), batch)]).numpy()


def readme_markers(name: str) -> tuple:
    """The bundled model's table sits between <!-- metrics:start/end -->, another model's between <!-- metrics:NAME:start/end -->."""
    tag = "metrics" if name == DEFAULT_NAME else f"metrics:{name}"
    return f"<!-- {tag}:start -->", f"<!-- {tag}:end -->"


def update_readme(table: str, name: str) -> None:
    """Replace the model's table in models/README.md; a model without markers there is left out."""
    path = os.path.join(HERE, "README.md")
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start, end = readme_markers(name)
    if start not in text:
        return
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    with open(path, "w", encoding="utf-8") as f:
        f.write(pattern.sub(lambda _: f"{start}\n{table}\n{end}", text))


def main() -> None:
    ap = argparse.ArgumentParser(description="Train the bundled pose model on synthetic windows.")
    ap.add_argument("--data", default=os.path.join(HERE, ".work"))
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--pos-boost", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("TRAIN_THREADS", "1")),
                    help="torch CPU threads (default 1, or $TRAIN_THREADS); 1 keeps runs reproducible")
    ap.add_argument("--no-export", action="store_true")
    args = ap.parse_args()

    meta_path = os.path.join(args.data, "dataset.json")
    if not os.path.isfile(meta_path):
        sys.exit(f"train: {meta_path} not found; run `npx tsx models/make-dataset.ts` first")
    with open(meta_path, encoding="utf-8") as f:
        data_meta = json.load(f)
    events = data_meta["events"]

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(max(1, args.threads))  # one thread: deterministic, and the fastest for this size on a small CPU
    torch.use_deterministic_algorithms(True)

    x_tr, y_tr = load_split(args.data, "train", data_meta)
    x_va, y_va = load_split(args.data, "val", data_meta)
    x_te, y_te = load_split(args.data, "test", data_meta)
    flat = x_tr.reshape(-1, x_tr.shape[2]).astype(np.float64)
    norm_mean = flat.mean(0)
    norm_std = np.maximum(flat.std(0), STD_FLOOR)
    del flat

    def normalise(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.clip((x - norm_mean) / norm_std, -6, 6).astype(np.float32))

    xt, xv, xe = normalise(x_tr), normalise(x_va), normalise(x_te)
    yt, yv = torch.from_numpy(y_tr), torch.from_numpy(y_va)
    print(f"window {xt.shape[1]}  features {xt.shape[2]}  hidden {args.hidden}  threads {torch.get_num_threads()}")
    print(f"train {xt.shape[0]}  val {xv.shape[0]}  test {xe.shape[0]}  positives(train) {dict(zip(events, y_tr.sum(0).astype(int).tolist()))}")

    model = LstmAnomalyModel(xt.shape[2], hidden_dim=args.hidden, num_out=len(events))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    # the rate decays over the run: late epochs settle instead of bouncing between minima
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=args.lr * 0.05)
    pos = np.clip(y_tr.sum(0), 1.0, None)
    pos_weight = torch.tensor((len(y_tr) - pos) / pos, dtype=torch.float32).clamp_(1.0, 100.0)
    criterion = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    weights = torch.from_numpy(1.0 + (y_tr.max(1) > 0) * (args.pos_boost - 1.0))
    sampler_gen = torch.Generator().manual_seed(args.seed)

    best_loss, best_state, best_epoch = float("inf"), None, 0
    started = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.multinomial(weights, len(weights), replacement=True, generator=sampler_gen)
        total = 0.0
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            optimizer.zero_grad()
            loss = criterion(model(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            total += float(loss) * len(idx)
        schedule.step()
        model.eval()
        with torch.no_grad():
            va_loss = sum(float(criterion(model(xv[i:i + 512]), yv[i:i + 512])) * len(yv[i:i + 512]) for i in range(0, len(yv), 512)) / len(yv)
        mark = ""
        if va_loss < best_loss:
            best_loss, best_state, best_epoch, mark = va_loss, copy.deepcopy(model.state_dict()), epoch, "  <- best"
        print(f"[{epoch:02d}] train {total / len(order):.4f}  valid {va_loss:.4f}  ({time.time() - started:.0f}s){mark}", flush=True)

    model.load_state_dict(best_state)
    va_prob = predict(model, xv)
    thresholds = [best_f1_threshold(y_va[:, c], va_prob[:, c]) for c in range(len(events))]
    te_prob = predict(model, xe)
    rows = {e: prf(y_te[:, c], (te_prob[:, c] >= thresholds[c]).astype(np.float32)) for c, e in enumerate(events)}
    rows["any event"] = prf(y_te.max(1), (te_prob >= np.array(thresholds)).any(1).astype(np.float32))

    ckpt = {
        "state_dict": model.state_dict(),
        "meta": {
            "events": events, "win": data_meta["window"],
            "norm_mean": norm_mean.tolist(), "norm_std": norm_std.tolist(),
            "feature_dim": data_meta["feature_dim"], "fps": data_meta["fps"],
            "label_rule": data_meta["label_rule"], "source": "synthetic (src/features/synthetic-pose.ts)",
            "train_windows": int(len(xt)), "val_windows": int(len(xv)), "test_windows": int(len(xe)),
            "best_epoch": best_epoch, "seed": args.seed,
        },
        "thresholds": [float(t) for t in thresholds],
    }
    torch.save(ckpt, args.out)
    lines = ["| event | threshold | precision | recall | F1 | positives / windows |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        thr = f"{thresholds[events.index(name)]:.3f}" if name in events else "any"
        lines.append(f"| {name} | {thr} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['positives']} / {r['windows']} |")
    table = "\n".join(lines)
    print(f"saved {args.out} (epoch {best_epoch}, valid loss {best_loss:.4f}, {time.time() - started:.0f}s of training); test split:\n{table}")
    if os.path.dirname(os.path.abspath(args.out)) == HERE:  # only the bundled models' numbers belong in the README
        update_readme(table, os.path.splitext(os.path.basename(args.out))[0])
    if not args.no_export:
        onnx = os.path.splitext(args.out)[0] + ".onnx"
        subprocess.run([sys.executable, os.path.join(HERE, "export_onnx.py"), args.out, onnx], check=True)


if __name__ == "__main__":
    main()
