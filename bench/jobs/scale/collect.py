"""bench/scale.sh's bookkeeping: one JSON line per size from the task logs, the step
marks and the server's RSS samples; `--table` prints the side-by-side table."""
import glob
import json
import os
import re
import sys

STEPS = ["upload_guest", "upload_host", "reader_0", "data_transform_0", "intersection_0",
         "hetero_feature_binning_0", "hetero_lr_0", "job", "output_data"]
RAN = re.compile(r"component ran ([0-9.]+) s; peak memory \(RSS\) (\d+) MB")
EPOCH = re.compile(r"^\[\d+\] epoch \d+(?: done|: loss [^ ]+) \((.*)\)$", re.M)
IDLE = re.compile(r"idle ([0-9.]+) s \([0-9]+%\), overlapped ([0-9.]+) s \([0-9]+%\) of ([0-9.]+) s")
PHASE = re.compile(r"([a-z][a-z _/-]*?) ([0-9.]+) s")


def collect(rows, site, job, marks, rss):
    samples = []
    for line in open(rss):
        parts = line.split()
        if len(parts) == 2:
            samples.append((int(parts[0]), int(parts[1]) // 1024))
    steps = {}
    for line in open(marks):
        name, t0, t1 = line.split()
        t0, t1 = int(t0), int(t1)
        peak = max((mb for t, mb in samples if t0 <= t <= t1), default=None)
        steps[name] = {"s": (t1 - t0) / 1000, "server_mb": peak}
    for log in glob.glob(f"{site}/logs/{job}/*/*/*/INFO.log"):
        role, _party, component = log.split(os.sep)[-4:-1]
        text = open(log).read()
        m = RAN.search(text)
        if not m:
            continue
        step = steps.setdefault(component, {"s": 0.0, "rss_mb": {}})
        step["s"] = max(step["s"], float(m.group(1)))
        step.setdefault("rss_mb", {})[role] = int(m.group(2))
        epochs = EPOCH.findall(text)
        if epochs and role in ("guest", "host"):
            # The first epoch's phase breakdown: its total, and the share spent waiting.
            line = epochs[0]
            m = IDLE.search(line)
            if m:
                # "...; idle X s (p%), overlapped Y s (q%) of W s"
                idle, total = float(m.group(1)), float(m.group(3))
            else:
                phases = [(p.strip(), float(t)) for p, t in PHASE.findall(line)]
                total = sum(t for _, t in phases)
                idle = sum(t for p, t in phases if "wait" in p)
            if total > 0:
                step.setdefault("epoch_s", {})[role] = round(total, 2)
                step.setdefault("idle", {})[role] = round(idle / total, 3)
    return {"rows": rows, "job": job, "steps": steps}


def table(path):
    runs = [json.loads(line) for line in open(path) if line.strip()]
    if not runs:
        print("no results")
        return
    head = "| step | " + " | ".join(f"{r['rows']:,} rows" for r in runs) + " |"
    print(head)
    print("|---" * (len(runs) + 1) + "|")
    for step in STEPS:
        cells = []
        for r in runs:
            s = r["steps"].get(step)
            if not s:
                cells.append("-")
                continue
            cell = f"{s['s']:.1f} s"
            if "epoch_s" in s:
                cell += " (epoch: " + ", ".join(
                    f"{role} {t:.1f} s, {100 * s['idle'][role]:.0f} % idle" for role, t in sorted(s["epoch_s"].items())) + ")"
            if s.get("rss_mb"):
                cell += ", " + " / ".join(f"{role} {mb} MB" for role, mb in sorted(s["rss_mb"].items()))
            if s.get("server_mb") is not None:
                cell += f", server {s['server_mb']} MB"
            cells.append(cell)
        print(f"| {step} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if sys.argv[1] == "--table":
        table(sys.argv[2])
    else:
        print(json.dumps(collect(int(sys.argv[1]), *sys.argv[2:6])))
