"""Shared pieces of the pipeline-SDK end-to-end scripts.

Each script drives a running site through FATE's own `pipeline` package (fate-client
1.11), as FATE users do, and checks what comes back against an independent plaintext
computation written here (numpy only; nothing of ours is called).
"""
import csv
import json
import os
import sys

import numpy as np

GUEST, HOST = 9999, 10000
DATA = os.environ.get("PIPELINE_DATA") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "data")
NAMESPACE = "pipeline_sdk"


def check(ok, what):
    """Fails the script, saying what was expected, unless `ok`."""
    if not ok:
        print(f"FAIL: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def upload(tables):
    """Uploads `{table_name: file_name}` from the data folder through the SDK."""
    from pipeline.backend.pipeline import PipeLine

    p = PipeLine().set_initiator(role="guest", party_id=GUEST).set_roles(guest=GUEST)
    for name, file_name in tables.items():
        p.add_upload_data(file=os.path.join(DATA, file_name), table_name=name,
                          namespace=NAMESPACE, head=1, partition=4)
    p.upload(drop=1)


def table(name):
    return {"name": name, "namespace": NAMESPACE}


def reader(name, guest_table, host_table):
    """A Reader of `guest_table` at the guest and `host_table` at the host."""
    from pipeline.component import Reader

    r = Reader(name=name)
    r.get_party_instance(role="guest", party_id=GUEST).component_param(table=table(guest_table))
    r.get_party_instance(role="host", party_id=HOST).component_param(table=table(host_table))
    return r


def hetero_start(guest_table, host_table, arbiter=False, **guest_transform):
    """A guest-initiated pipeline with reader_0 and data_transform_0 added (the guest's
    DataTransform with the label and `guest_transform`, the host's without).
    Returns (pipeline, reader_0, data_transform_0)."""
    from pipeline.backend.pipeline import PipeLine
    from pipeline.component import DataTransform
    from pipeline.interface import Data

    p = PipeLine().set_initiator(role="guest", party_id=GUEST)
    if arbiter:
        p.set_roles(guest=GUEST, host=HOST, arbiter=HOST)
    else:
        p.set_roles(guest=GUEST, host=HOST)
    reader_0 = reader("reader_0", guest_table, host_table)
    dt_0 = DataTransform(name="data_transform_0")
    dt_0.get_party_instance(role="guest", party_id=GUEST).component_param(with_label=True, **guest_transform)
    dt_0.get_party_instance(role="host", party_id=HOST).component_param(with_label=False)
    p.add_component(reader_0)
    p.add_component(dt_0, data=Data(data=reader_0.output.data))
    return p, reader_0, dt_0


def read_csv(file_name):
    """(ids, header, rows as float arrays) of a data file."""
    with open(os.path.join(DATA, file_name)) as f:
        r = csv.reader(f)
        header = next(r)
        ids, rows = [], []
        for line in r:
            ids.append(line[0])
            rows.append([float(v) for v in line[1:]])
    return ids, header[1:], np.array(rows)


def joined(guest_file, host_file, label="y"):
    """Guest and host features of the ids both hold, in guest order, and the label."""
    gid, gh, g = read_csv(guest_file)
    hid, hh, h = read_csv(host_file)
    hpos = {i: k for k, i in enumerate(hid)}
    keep = [k for k, i in enumerate(gid) if i in hpos]
    li = gh.index(label)
    y = g[keep, li]
    gx = np.delete(g[keep], li, axis=1)
    hx = h[[hpos[gid[k]] for k in keep]]
    return [gid[k] for k in keep], gx, hx, y


def auc(y, score):
    """Area under the ROC curve, ties counted half (Mann-Whitney)."""
    y = np.asarray(y)
    score = np.asarray(score)
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    s = score[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = y == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def metrics(pipeline, component, role="guest", party_id=GUEST, predict=False):
    """FATE's metric/all answer for a component (the SDK's TaskInfo has no getter)."""
    job = pipeline.get_predict_job_id() if predict else pipeline.get_train_job_id()
    return pipeline._job_invoker.get_metric(job, component, role, party_id)


def metric_points(metrics, namespace, name):
    """The points of one metric in `get_metric()`'s answer (FATE's metric/all)."""
    return metrics.get(namespace, {}).get(name, {}).get("data", [])


def dump(title, value):
    print(f"{title}: {json.dumps(value, default=str)[:400]}", flush=True)
