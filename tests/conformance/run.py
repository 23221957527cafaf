#!/usr/bin/env python3
"""Runs FATE 1.11's own example jobs through FATE's `flow` client against a site.

Called by scripts/conformance.sh, which installs fate-client, starts the site and runs
`flow init`. For each folder of `dsl/v2` it reads the testsuites, uploads the tables
they list (with their upload options), submits every DSL/conf pair unchanged (predict
jobs after deploying their training job's model, as FATE's testsuite runner does),
waits with a timeout and records status, seconds, headline metrics or the reason.

Writes results.json and results.md into --out and prints the table.
"""

import argparse
import json
import os
import subprocess
import sys
import time

FINAL = {"success", "failed", "canceled", "timeout"}
HEADLINE = ("auc", "ks", "accuracy", "precision", "recall", "r2_score", "rmse",
            "mean_absolute_error", "explained_variance")
UPLOAD_KEYS = ("head", "partition", "namespace", "table_name", "extend_sid", "meta",
               "with_meta", "id_delimiter", "auto_increasing_sid")


def parse_json(text):
    """The first JSON object `flow` printed (it may print other lines first)."""
    dec = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch == "{":
            try:
                obj, _ = dec.raw_decode(text[i:])
                if isinstance(obj, dict):
                    return obj
            except ValueError:
                continue
    return None


class Flow:
    def __init__(self, exe, log):
        self.exe = exe
        self.log = log

    def __call__(self, *args, timeout=600):
        cmd = [self.exe, *map(str, args)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            out = p.stdout + p.stderr
        except subprocess.TimeoutExpired:
            out = "flow timed out"
        self.log.write("$ flow %s\n%s\n" % (" ".join(map(str, args)), out[-4000:]))
        self.log.flush()
        r = parse_json(out)
        if r is None:
            return {"retcode": -1, "retmsg": out.strip()[-300:] or "no output"}
        return r


def reader_tables(conf):
    """(namespace, name) of every table the job's readers name, for any role."""
    found = set()

    def walk(v):
        if isinstance(v, dict):
            t = v.get("table")
            if isinstance(t, dict) and "name" in t and "namespace" in t:
                found.add((t["namespace"], t["name"]))
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(conf.get("component_parameters", {}))
    return found


def headline(flow, job_id, role, party, dsl):
    """Evaluation metrics of the guest, else the last component's summary."""
    comps = dsl.get("components", {})
    evals = [n for n, c in comps.items() if c.get("module") == "Evaluation"]
    parts = []
    for name in evals:
        r = flow("tracking", "metric-all", "-j", job_id, "-r", role, "-p", party, "-cpn", name)
        data = r.get("data") or {}
        for ns, metrics in sorted(data.items()) if isinstance(data, dict) else []:
            for mname, m in sorted(metrics.items()) if isinstance(metrics, dict) else []:
                pairs = m.get("data") if isinstance(m, dict) else None
                if not isinstance(pairs, list):
                    continue
                for kv in pairs:
                    if (isinstance(kv, list) and len(kv) == 2 and kv[0] in HEADLINE
                            and isinstance(kv[1], (int, float))):
                        parts.append("%s.%s=%.4f" % (mname, kv[0], kv[1]))
    if parts:
        return " ".join(parts[:6])
    if comps:
        last = list(comps)[-1]
        r = flow("tracking", "get-summary", "-j", job_id, "-r", role, "-p", party, "-cpn", last)
        s = json.dumps(r.get("data"), separators=(",", ":"))
        return "%s summary %s" % (last, s[:100])
    return ""


def failure_reason(flow, job_id):
    r = flow("task", "query", "-j", job_id, "-s", "failed")
    msgs = []
    for t in r.get("data") or []:
        if not isinstance(t, dict):
            continue
        detail = ""
        for k, v in t.items():
            if v and any(w in k.lower() for w in ("error", "reason", "msg", "message")):
                detail = str(v)
                break
        msgs.append("%s@%s:%s %s" % (t.get("f_component_name"), t.get("f_role"),
                                     t.get("f_party_id"), detail))
    if not msgs:
        q = flow("job", "query", "-j", job_id)
        for row in q.get("data") or []:
            for k, v in row.items() if isinstance(row, dict) else []:
                if v and any(w in k.lower() for w in ("error", "reason", "msg")):
                    msgs.append(str(v))
    return "; ".join(msgs)[:400]


def wait(flow, job_id, role, party, timeout):
    t0 = time.time()
    status = "unknown"
    while time.time() - t0 < timeout:
        r = flow("job", "query", "-j", job_id, "-r", role, "-p", party)
        rows = r.get("data") or []
        if rows and isinstance(rows, list):
            status = rows[0].get("f_status", status)
            if status in FINAL:
                return status, time.time() - t0
        time.sleep(1)
    flow("job", "stop", "-j", job_id)
    return "hung(%s)" % status, time.time() - t0


def unlisted_pairs(folder, tasks):
    """Confs of the folder that no testsuite task names, each with its DSL: `X_conf.json`
    with `X_dsl.json`, else the DSL sharing the most name words (FATE's READMEs pair them
    by hand). Names of the extra tasks are the conf's stem."""
    listed = set()
    for name in os.listdir(folder):
        if name.endswith("testsuite.json"):
            with open(os.path.join(folder, name)) as f:
                for t in json.load(f).get("tasks", {}).values():
                    listed.add(os.path.basename(t.get("conf", "")))
    dsls = sorted(f for f in os.listdir(folder) if f.endswith("_dsl.json"))
    extra = {}
    for conf in sorted(os.listdir(folder)):
        if not conf.endswith("_conf.json") or conf in listed:
            continue
        stem = conf[: -len("_conf.json")]
        dsl = stem + "_dsl.json"
        if dsl not in dsls:
            words = set(stem.split("_"))
            scored = [(len(words & set(d[: -len("_dsl.json")].split("_"))), -len(d), d) for d in dsls
                      if "predict" not in d or "predict" in words]
            if not scored:
                continue
            dsl = max(scored)[2]
        extra[stem] = {"conf": conf, "dsl": dsl}
    return extra


def fill_cache_loaders(dsl, conf, done, name):
    """FATE's CacheLoader confs leave `job_id` empty for the user to name the job whose
    cache to load. Fills it with the successful job of this folder that wrote that
    component's cache, preferring one whose name shares the loader's method word (rsa,
    dh, ecdh). Returns the job names used, or None when nothing was filled."""
    loaders = [c for c, v in dsl.get("components", {}).items() if v.get("module") == "CacheLoader"]
    used = []
    words = set(name.split("_"))
    for section in _param_blocks(conf):
        for c in loaders:
            p = section.get(c)
            if not isinstance(p, dict) or p.get("job_id"):
                continue
            found = [(n, r) for n, r in done.items()
                     if r.get("status") == "success" and p.get("component_name") in r.get("caches", [])]
            if not found:
                continue
            same = [x for x in found if words & set(x[0].split("_")) & {"rsa", "dh", "ecdh"}]
            n, r = (same or found)[-1]
            p["job_id"] = r["job_id"]
            used.append(n)
    return used or None


def _param_blocks(conf):
    cp = conf.get("component_parameters", {})
    yield cp.get("common", {})
    for sels in cp.get("role", {}).values():
        for block in sels.values():
            yield block


def run_suite(flow, suite_path, examples, uploads, results, args):
    folder = os.path.dirname(suite_path)
    with open(suite_path) as f:
        suite = json.load(f)
    bad_tables = {}
    for d in suite.get("data", []):
        key = (d["namespace"], d["table_name"])
        src = os.path.join(examples, "data", d["file"].split("examples/data/", 1)[-1])
        sig = json.dumps([src] + [d.get(k) for k in UPLOAD_KEYS if k not in ("namespace", "table_name")])
        if uploads.get(key, (None,))[0] == sig:
            if uploads[key][1]:
                bad_tables[key] = uploads[key][1]
            continue
        if not os.path.exists(src):
            uploads[key] = (sig, "data file %s absent from the corpus" % os.path.basename(src))
            bad_tables[key] = uploads[key][1]
            continue
        conf = {"file": src, "work_mode": 0}
        for k in UPLOAD_KEYS:
            if k in d:
                conf[k] = d[k]
        path = os.path.join(args.out, "upload_%s_%s.json" % key)
        with open(path, "w") as f:
            json.dump(conf, f)
        r = flow("data", "upload", "-c", path, "--drop")
        err = None if r.get("retcode") == 0 else "upload refused: %s" % r.get("retmsg")
        uploads[key] = (sig, err)
        if err:
            bad_tables[key] = err

    tasks = dict(suite.get("tasks", {}))
    tasks.update(unlisted_pairs(folder, tasks))
    done = {}
    first = len(results)
    order = [n for n in tasks if "deps" not in tasks[n]] + [n for n in tasks if "deps" in tasks[n]]
    for name in order:
        if args.only and not any(s in name for s in args.only):
            continue
        t = tasks[name]
        rel = os.path.relpath(folder, os.path.join(examples, "dsl", "v2"))
        row = {"folder": rel, "job": name, "status": "", "seconds": 0.0, "detail": "", "job_id": ""}
        results.append(row)
        try:
            with open(os.path.join(folder, t["dsl"])) as f:
                dsl = json.load(f)
            with open(os.path.join(folder, t["conf"])) as f:
                conf = json.load(f)
        except FileNotFoundError as e:
            # The corpus holds back a few confs as an independent check.
            row.update(status="held-back", detail="not in the corpus: %s" % os.path.basename(e.filename))
            continue
        except (OSError, ValueError) as e:
            row.update(status="unreadable", detail=str(e))
            continue
        missing = [bad_tables[k] for k in reader_tables(conf) if k in bad_tables]
        if missing:
            row.update(status="no-data", detail=missing[0])
            continue
        conf_path = os.path.join(folder, t["conf"])
        row["caches"] = [c for c, v in dsl.get("components", {}).items() if v.get("output", {}).get("cache")]
        filled = fill_cache_loaders(dsl, conf, done, name)
        if filled:
            conf_path = os.path.join(args.out, "%s_%s_conf.json" % (rel.replace("/", "_"), name))
            with open(conf_path, "w") as f:
                json.dump(conf, f)
        if "deps" in t:
            dep = done.get(t["deps"])
            if not dep or dep.get("status") != "success":
                row.update(status="skipped", detail="its training job %s did not succeed" % t["deps"])
                continue
            d = flow("model", "deploy", "--model-id", dep["model_id"], "--model-version",
                     dep["job_id"], "--dsl-path", os.path.join(folder, t["dsl"]))
            if d.get("retcode") != 0:
                row.update(status="deploy-failed", detail=str(d.get("retmsg"))[:300])
                continue
            conf.setdefault("job_parameters", {}).setdefault("common", {})
            conf["job_parameters"]["common"]["model_id"] = d["data"]["model_id"]
            conf["job_parameters"]["common"]["model_version"] = d["data"]["model_version"]
            # As fate_test does for a job with deps (_parser.update_job_type).
            conf["job_parameters"]["common"].setdefault("job_type", "predict")
            # fate_test maps every conf's parties onto the ones it is configured with, so
            # a predict job always runs with its training job's parties; some corpus
            # predict confs name other hosts (hetero_secureboost: 10000 vs 9998).
            if dep.get("roles"):
                conf["role"] = dep["roles"]
            conf_path = os.path.join(args.out, "%s_%s_conf.json" % (rel.replace("/", "_"), name))
            with open(conf_path, "w") as f:
                json.dump(conf, f)
        init = conf.get("initiator", {})
        role, party = init.get("role", "guest"), str(init.get("party_id", 9999))
        t0 = time.time()
        r = flow("job", "submit", "-d", os.path.join(folder, t["dsl"]), "-c", conf_path)
        if r.get("retcode") != 0:
            row.update(status="refused", seconds=time.time() - t0, detail=str(r.get("retmsg"))[:400])
            continue
        job_id = r.get("jobId") or (r.get("data") or {}).get("job_id")
        model_id = ((r.get("data") or {}).get("model_info") or {}).get("model_id")
        row["job_id"] = job_id
        row["roles"] = conf.get("role")
        status, secs = wait(flow, job_id, role, party, args.timeout)
        row.update(status=status, seconds=secs, model_id=model_id)
        if status == "success":
            row["detail"] = headline(flow, job_id, role, party, dsl)
        else:
            row["detail"] = failure_reason(flow, job_id)
        done[name] = row
    for row in results[first:]:
        print("%-28s %-40s %-10s %6.1fs %s" % (row["folder"], row["job"], row["status"],
                                              row["seconds"], row["detail"][:120]), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flow", required=True)
    ap.add_argument("--examples", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--only", action="append", help="run only jobs whose name contains this")
    ap.add_argument("--expect", help="file of `folder/job status` lines the run must match")
    ap.add_argument("folders", nargs="+")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "flow.log"), "a")
    flow = Flow(args.flow, log)
    results, uploads = [], {}
    for folder in args.folders:
        base = os.path.join(args.examples, "dsl", "v2", folder)
        suites = sorted(f for f in os.listdir(base) if f.endswith("testsuite.json"))
        if not suites:
            print("%s: no testsuite" % folder, file=sys.stderr)
        for s in suites:
            run_suite(flow, os.path.join(base, s), args.examples, uploads, results, args)

    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    counts = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("| folder | job | status | s | metrics or reason |\n|---|---|---|---|---|\n")
        for r in results:
            detail = r["detail"].replace("|", "\\|").replace("\n", " ")
            f.write("| %s | %s | %s | %.1f | %s |\n" % (r["folder"], r["job"], r["status"],
                                                      r["seconds"], detail))
        f.write("\n%d jobs: %s\n" % (len(results), ", ".join(
            "%s %d" % kv for kv in sorted(counts.items()))))
    print("\n%d jobs: %s" % (len(results), ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    print("results: %s" % os.path.join(args.out, "results.md"))
    if args.expect:
        return check_expected(args.expect, results)
    return 0


def check_expected(path, results):
    """Every listed job ran and ended as listed (a refusal listed is a refusal kept)."""
    got = {"%s/%s" % (r["folder"], r["job"]): r for r in results}
    wrong = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            job, status = line.split()
            r = got.get(job)
            if r is None:
                wrong.append("%s: not run (expected %s)" % (job, status))
            elif r["status"] != status:
                wrong.append("%s: %s, expected %s: %s" % (job, r["status"], status, r["detail"][:300]))
    for w in wrong:
        print("FAIL: " + w)
    if not wrong:
        print("every job in %s ended as expected" % path)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
