"""Turn a pose-model checkpoint into the ONNX + JSON pair the server loads, plus a parity file.

    python3 models/export_onnx.py CHECKPOINT.pt OUT.onnx [--labels JSON-OR-FILE]

writes OUT.onnx, OUT.json and OUT.parity.json. Needs only torch (Debian's python3-torch is enough).
Every failure is reported as one line on stderr with exit status 1.

OUT.json's `labels` (event name -> display label, what memos and the watch page show) come from, the
first that names an event winning: --labels (a JSON object, or a file holding one), the checkpoint's
meta.labels, the OUT.json being replaced (a re-export keeps its labels), the bundled events' labels.
"""

import contextlib
import datetime
import hashlib
import io
import json
import math
import os
import re
import sys
import warnings

EXPORTER_VERSION = "1.0.0"
OPSET = 17
INPUT_NAME = "features"
OUTPUT_NAME = "scores"
PARITY_SEED = 20240611
PARITY_LENGTHS_ANY_WINDOW = (8, 16, 30)  # model with window 0 accepts any length: check a few
DEFAULT_THRESHOLD = 0.5
# The bundled models' events, as the people on watch read them (Korean).
BUNDLED_LABELS = {"fall": "낙상", "lying_still": "쓰러진 채 움직임 없음", "flailing": "몸부림"}
MAX_LABEL_CHARS = 64  # src/common/model-meta.ts refuses longer labels


class CheckpointError(Exception):
    """A one-line, user-facing reason why the checkpoint cannot be exported."""


def fail(message: str) -> None:
    print(f"export_onnx: {message}", file=sys.stderr)
    sys.exit(1)


try:
    import torch
except ImportError:
    fail("cannot import torch: install Debian's python3-torch and run with /usr/bin/python3 (or set PYTHON)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lstm_model import LstmAnomalyModel, ScoringModel  # noqa: E402

LSTM_KEY = re.compile(r"^lstm\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")
FIXED_KEYS = {"pre.0.weight", "pre.0.bias", "pool.w.weight", "pool.w.bias", "head.weight", "head.bias"}


def load_checkpoint(path: str) -> dict:
    if not os.path.isfile(path):
        raise CheckpointError("no such file")
    try:
        ckpt = torch.load(path, map_location="cpu")
    except Exception as exc:  # any unpickling failure means "not a checkpoint"; say why in one line
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"not a PyTorch checkpoint ({reason})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"expected a dict with 'state_dict' and 'meta', found {type(ckpt).__name__}")
    for key in ("state_dict", "meta"):
        if key not in ckpt:
            raise CheckpointError(f"missing '{key}' (a checkpoint holds state_dict, meta and optionally thresholds)")
    if not isinstance(ckpt["meta"], dict):
        raise CheckpointError(f"'meta' must be a dict, found {type(ckpt['meta']).__name__}")
    if not isinstance(ckpt["state_dict"], dict):
        raise CheckpointError(f"'state_dict' must be a dict of tensors, found {type(ckpt['state_dict']).__name__}")
    return ckpt


def float_list(value, what: str) -> list:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().reshape(-1).tolist()
    elif hasattr(value, "tolist"):  # numpy arrays, without importing numpy
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise CheckpointError(f"{what} must be a list of numbers, found {type(value).__name__}")
    out = []
    for i, v in enumerate(value):
        if hasattr(v, "item"):  # numpy scalars and 0-d tensors inside a list
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise CheckpointError(f"{what}[{i}] is not a finite number: {v!r}")
        out.append(float(v))
    return out


def read_meta(ckpt: dict) -> dict:
    meta = ckpt["meta"]
    for key in ("events", "win", "norm_mean", "norm_std"):
        if key not in meta:
            raise CheckpointError(f"meta has no '{key}' (expected events, win, norm_mean, norm_std)")
    events = meta["events"]
    if not isinstance(events, (list, tuple)) or not events or not all(isinstance(e, str) and e for e in events):
        raise CheckpointError("meta.events must be a non-empty list of event names")
    if len(set(events)) != len(events):
        raise CheckpointError(f"meta.events has duplicate names: {list(events)}")
    win = meta["win"].item() if hasattr(meta["win"], "item") else meta["win"]
    if isinstance(win, bool) or not isinstance(win, int) or win < 0:
        raise CheckpointError(f"meta.win must be a whole number >= 0 (0 = any length), found {win!r}")
    mean = float_list(meta["norm_mean"], "meta.norm_mean")
    std = float_list(meta["norm_std"], "meta.norm_std")
    if len(mean) != len(std):
        raise CheckpointError(f"meta.norm_mean has {len(mean)} values but meta.norm_std has {len(std)}")
    raw_thr = ckpt.get("thresholds")
    thresholds = [DEFAULT_THRESHOLD] * len(events) if raw_thr is None else float_list(raw_thr, "thresholds")
    if len(thresholds) != len(events):
        raise CheckpointError(f"meta.events has {len(events)} names but thresholds has {len(thresholds)} values")
    return {"events": list(events), "win": win, "mean": mean, "std": std, "thresholds": thresholds,
            "thresholds_from": "checkpoint" if raw_thr is not None else "default 0.5"}


def checked_labels(value, what: str, events: list) -> dict:
    """Labels given on purpose (--labels, the checkpoint): a name that is no event is a mistake."""
    if not isinstance(value, dict):
        raise CheckpointError(f"{what} must map event names to display labels, found {type(value).__name__}")
    unknown = [name for name in value if name not in events]
    if unknown:
        raise CheckpointError(f"{what} names {unknown}, which are not among the model's events {events}")
    for name, label in value.items():
        if not isinstance(label, str) or not label or len(label) > MAX_LABEL_CHARS:
            raise CheckpointError(f"{what}[{name!r}] must be a non-empty string of at most {MAX_LABEL_CHARS} characters, found {label!r}")
    return value


def replaced_labels(sidecar_path: str) -> dict:
    """The labels of the sidecar a re-export replaces; none when there is no readable one."""
    try:
        with open(sidecar_path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    labels = doc.get("labels") if isinstance(doc, dict) else None
    return labels if isinstance(labels, dict) else {}


def choose_labels(events: list, option, meta: dict, sidecar_path: str) -> dict:
    """Each event's label from the first source that has one, in the model's event order."""
    sources = []
    if option is not None:
        sources.append(checked_labels(option, "--labels", events))
    if "labels" in meta:
        sources.append(checked_labels(meta["labels"], "meta.labels", events))
    sources += [replaced_labels(sidecar_path), BUNDLED_LABELS]
    chosen = {}
    for event in events:
        for labels in sources:
            label = labels.get(event)
            if isinstance(label, str) and 0 < len(label) <= MAX_LABEL_CHARS:
                chosen[event] = label
                break
    return chosen


def infer_architecture(state: dict, meta: dict) -> dict:
    # checkpoints saved from nn.DataParallel prefix every key with "module."
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    unknown = sorted(k for k in state if k not in FIXED_KEYS and not LSTM_KEY.match(k))
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else "")
        raise CheckpointError(f"state_dict has unknown layer names: {shown}")
    missing = sorted(FIXED_KEYS - state.keys())
    if missing:
        raise CheckpointError(f"state_dict lacks layers: {', '.join(missing)}")
    layers = {int(m.group(2)) for m in map(LSTM_KEY.match, state) if m}
    if not layers or layers != set(range(len(layers))):
        raise CheckpointError("state_dict has no complete lstm.weight_ih_l0 .. lstm.weight_ih_lN sequence")
    bidirectional = any(k.endswith("_reverse") for k in state)
    hh = state.get("lstm.weight_hh_l0")
    pre = state["pre.0.weight"]
    head = state["head.weight"]
    if hh is None or hh.dim() != 2 or pre.dim() != 3 or head.dim() != 2:
        raise CheckpointError("state_dict shapes do not match LstmAnomalyModel (pre.0.weight, lstm.weight_hh_l0, head.weight)")
    arch = {"feat_dim": int(pre.shape[1]), "hidden_dim": int(hh.shape[1]), "num_layers": len(layers),
            "bidirectional": bidirectional, "num_out": int(head.shape[0])}
    if arch["num_out"] != len(meta["events"]):
        raise CheckpointError(f"head has {arch['num_out']} outputs but meta.events has {len(meta['events'])} names")
    if len(meta["mean"]) != arch["feat_dim"]:
        raise CheckpointError(f"meta.norm_mean has {len(meta['mean'])} values but the weights take {arch['feat_dim']} features")
    model = LstmAnomalyModel(**arch)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).splitlines()[1:3])
        raise CheckpointError(f"state_dict does not fit LstmAnomalyModel{arch}: {detail}") from None
    return {"arch": arch, "model": model.eval()}


def parity_cases(scorer: ScoringModel, meta: dict) -> list:
    gen = torch.Generator().manual_seed(PARITY_SEED)
    mean = torch.tensor(meta["mean"], dtype=torch.float64)
    std = torch.tensor(meta["std"], dtype=torch.float64)
    shapes = [(1, meta["win"]), (2, meta["win"])] if meta["win"] > 0 else [(1, PARITY_LENGTHS_ANY_WINDOW[0]), (2, PARITY_LENGTHS_ANY_WINDOW[1]), (1, PARITY_LENGTHS_ANY_WINDOW[2])]
    cases = []
    for batch, frames in shapes:
        z = torch.randn(batch, frames, len(meta["mean"]), generator=gen, dtype=torch.float64)
        # a few values far out in the tails exercise the clip to [-6, 6]
        z = torch.where(torch.rand(z.shape, generator=gen, dtype=torch.float64) < 0.02, z * 8.0, z)
        raw = mean + std * z
        if batch > 1:
            raw[-1] = 0.0  # an all-zero window: what the features of a scene with no person look like
        # the file keeps 6 significant digits; both sides read those same numbers back as float32
        text = ["%.6g" % v for v in raw.reshape(-1).tolist()]
        x = torch.tensor([float(t) for t in text], dtype=torch.float32).reshape(batch, frames, -1)
        with torch.no_grad():
            scores = scorer(x)
        cases.append({"batch": batch, "frames": frames, "features": text,
                      "scores": [float(v) for v in scores.reshape(-1).tolist()]})
    return cases


def write_parity(path: str, cases: list, meta: dict) -> None:
    # features are written as the exact decimal text the scores were computed from
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"format": 1, "input_name": %s, "output_name": %s, "events": %s, "tolerance": 1e-4, "cases": [\n'
                % (json.dumps(INPUT_NAME), json.dumps(OUTPUT_NAME), json.dumps(meta["events"], ensure_ascii=False)))
        for i, case in enumerate(cases):
            f.write('{"batch": %d, "frames": %d, "scores": %s,\n "features": [%s]}%s\n'
                    % (case["batch"], case["frames"], json.dumps(case["scores"]), ",".join(case["features"]),
                       "," if i + 1 < len(cases) else ""))
        f.write("]}\n")


def export(ckpt_path: str, onnx_path: str, labels_option=None) -> None:
    ckpt = load_checkpoint(ckpt_path)
    meta = read_meta(ckpt)
    base = onnx_path[: -len(".onnx")]
    labels = choose_labels(meta["events"], labels_option, ckpt["meta"], base + ".json")
    built = infer_architecture(ckpt["state_dict"], meta)
    if any(s <= 0 for s in meta["std"]):
        print("export_onnx: warning: meta.norm_std has values <= 0; those features normalise to +-6 or NaN, as in the seed",
              file=sys.stderr)
    scorer = ScoringModel(built["model"], torch.tensor(meta["mean"]), torch.tensor(meta["std"])).eval()

    out_dir = os.path.dirname(os.path.abspath(onnx_path))
    os.makedirs(out_dir, exist_ok=True)
    example = torch.zeros(2, meta["win"] or 16, built["arch"]["feat_dim"])
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # torch's tracer warns about LSTM batch_first; the graph is checked by parity
        torch.onnx.export(
            scorer, (example,), onnx_path, opset_version=OPSET, do_constant_folding=True,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch", 1: "frames"}, OUTPUT_NAME: {0: "batch"}},
        )

    with open(ckpt_path, "rb") as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    extra = {k: v for k, v in ckpt["meta"].items() if k not in ("events", "win", "norm_mean", "norm_std", "labels")}
    doc = {
        "events": meta["events"],
        "thresholds": meta["thresholds"],
        "window_size": meta["win"],
        "feature_dim": built["arch"]["feat_dim"],
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "architecture": {"type": "LstmAnomalyModel", **built["arch"]},
        "graph": "scores = sigmoid(model(clip((features - norm_mean) / norm_std, -6, 6)))",
        "source": {
            "checkpoint": os.path.basename(ckpt_path),
            "sha256": sha256,
            "thresholds": meta["thresholds_from"],
            "exporter": f"export_onnx.py {EXPORTER_VERSION}",
            "torch": torch.__version__,
            "opset": OPSET,
            "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "parity_file": os.path.basename(base) + ".parity.json",
        },
        "checkpoint_meta": json.loads(json.dumps(extra, ensure_ascii=False, default=lambda o: None)),
    }
    if labels:
        doc["labels"] = labels
    with open(base + ".json", "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)
        f.write("\n")
    write_parity(base + ".parity.json", parity_cases(scorer, meta), meta)
    arch = built["arch"]
    print(f"wrote {onnx_path}, {base}.json, {base}.parity.json: {len(meta['events'])} events {meta['events']}, "
          f"window {meta['win'] or 'any'}, features {arch['feat_dim']}, hidden {arch['hidden_dim']} x {arch['num_layers']} "
          f"{'bi' if arch['bidirectional'] else 'uni'}directional; labels {json.dumps(labels, ensure_ascii=False)}")


def labels_option(text: str) -> dict:
    """--labels: a JSON object, or the path of a file holding one."""
    try:
        if text.lstrip().startswith("{"):
            return json.loads(text)
        with open(text, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        fail(f"--labels {text}: {exc.strerror or exc}")
    except ValueError as exc:
        fail(f"--labels: not JSON ({exc})")


def main(argv: list) -> None:
    usage = "usage: python3 models/export_onnx.py CHECKPOINT.pt OUT.onnx [--labels JSON-OR-FILE]"
    labels = None
    if "--labels" in argv:
        at = argv.index("--labels")
        if at + 1 >= len(argv):
            fail(usage)
        labels = labels_option(argv[at + 1])
        argv = argv[:at] + argv[at + 2:]
    if len(argv) != 2 or argv[0] in ("-h", "--help"):
        fail(usage)
    ckpt_path, onnx_path = argv
    if not onnx_path.endswith(".onnx"):
        fail(f"{onnx_path}: the output name must end in .onnx")
    try:
        export(ckpt_path, onnx_path, labels)
    except CheckpointError as exc:
        fail(f"{ckpt_path}: {exc}")
    except Exception as exc:  # anything else is still reported as one line, never a traceback
        fail(f"{ckpt_path}: {type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
