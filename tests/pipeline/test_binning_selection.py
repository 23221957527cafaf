"""HeteroFeatureBinning and HeteroFeatureSelection through FATE's pipeline SDK: the
IVs of guest and host columns equal a plaintext computation on the same split points
(1e-9), and an IV threshold keeps exactly the columns the plaintext IVs say."""
import bisect

import numpy as np
from common import HOST, check, dump, hetero_start, joined, upload
from pipeline.backend.task_info import TaskInfo
from pipeline.component import HeteroFeatureBinning, HeteroFeatureSelection, Intersection
from pipeline.interface import Data, Model

THRESHOLD = 0.3


def plaintext_iv(values, y, split_points, adjustment=0.5):
    """IV of one column binned by `split_points` (a value goes to the first bin whose
    upper bound is >= it), WOE adjusted by 0.5 where a bin lacks events or non-events."""
    bins = len(split_points)
    ev, ne = np.zeros(bins), np.zeros(bins)
    for v, label in zip(values, y):
        b = min(bisect.bisect_left(split_points, v), bins - 1)
        if label == 1:
            ev[b] += 1
        else:
            ne[b] += 1
    total_ev, total_ne = ev.sum(), ne.sum()
    iv = 0.0
    for e, n in zip(ev, ne):
        if e == 0 and n == 0:
            continue
        if e == 0 or n == 0:
            er, nr = (e + adjustment) / total_ev, (n + adjustment) / total_ne
        else:
            er, nr = e / total_ev, n / total_ne
        iv += (er - nr) * np.log(er / nr)
    return iv


def main():
    upload({"breast_g": "breast_hetero_guest.csv", "breast_h": "breast_hetero_host.csv"})
    p, reader_0, dt_0 = hetero_start("breast_g", "breast_h")
    inter_0 = Intersection(name="intersection_0")
    binning_0 = HeteroFeatureBinning(name="hetero_feature_binning_0", method="quantile", bin_num=10,
                                     encrypt_param={"key_length": 1024})
    selection_0 = HeteroFeatureSelection(name="hetero_feature_selection_0", filter_methods=["iv_filter"],
                                         iv_param={"metrics": ["iv"], "filter_type": ["threshold"],
                                                   "threshold": [THRESHOLD], "select_federated": True})
    p.add_component(inter_0, data=Data(data=dt_0.output.data))
    p.add_component(binning_0, data=Data(data=inter_0.output.data))
    p.add_component(selection_0, data=Data(data=inter_0.output.data),
                    model=Model(isometric_model=binning_0.output.model))
    p.compile()
    p.fit()

    _, gx, hx, y = joined("breast_hetero_guest.csv", "breast_hetero_host.csv")
    guest = p.get_component("hetero_feature_binning_0").get_model_param()
    host = TaskInfo(p.get_train_job_id(), binning_0, p._job_invoker, role="host", party_id=HOST).get_model_param()
    results = guest["binning_result"]
    check(len(results) == gx.shape[1], f"the guest binned its {gx.shape[1]} columns")
    worst = 0.0
    guest_iv = {}
    for j, name in enumerate(guest["header"]):
        r = results[name]
        ref = plaintext_iv(gx[:, j], y, r["split_points"])
        worst = max(worst, abs(ref - r["iv"]))
        guest_iv[name] = ref
    check(worst < 1e-9, f"guest IVs equal the plaintext IVs (max difference {worst:.2e})")
    host_results = next(iter(guest["host_results"].values()))
    worst = 0.0
    host_iv = {}
    for j, (name, anon) in enumerate(zip(host["header"], host["header_anonymous"])):
        ref = plaintext_iv(hx[:, j], y, host["binning_result"][name]["split_points"])
        worst = max(worst, abs(ref - host_results[anon]["iv"]))
        host_iv[name] = ref
    check(len(host_iv) == hx.shape[1] and worst < 1e-9,
          f"host IVs (computed by the guest on encrypted labels) equal the plaintext IVs (max difference {worst:.2e})")

    out = p.get_component("hetero_feature_selection_0").get_output_data()
    kept = [c for c in out.columns if c in guest_iv]
    expected = [c for c in guest["header"] if guest_iv[c] >= THRESHOLD]
    dump("guest kept", kept)
    check(kept == expected, f"selection keeps the guest columns whose IV >= {THRESHOLD}")
    hsel = TaskInfo(p.get_train_job_id(), selection_0, p._job_invoker, role="host",
                    party_id=HOST).get_output_data()
    hkept = [c for c in hsel.columns if c in host_iv]
    check(hkept == [c for c in host["header"] if host_iv[c] >= THRESHOLD],
          f"selection keeps the host columns whose IV >= {THRESHOLD}")


if __name__ == "__main__":
    main()
