"""Intersection through FATE's pipeline SDK, each method: the count and the rows each
party keeps equal the plaintext intersection of the two files."""
import os
import tempfile

from common import DATA, HOST, check, hetero_start, upload
from pipeline.backend.task_info import TaskInfo
from pipeline.component import Intersection
from pipeline.interface import Data


def main():
    # Subsets of breast where each side holds ids the other lacks.
    work = tempfile.mkdtemp()
    files = {}
    for side, keep in [("g", lambda i: i % 3 != 0), ("h", lambda i: i >= 100)]:
        src = os.path.join(DATA, f"breast_hetero_{'guest' if side == 'g' else 'host'}.csv")
        lines = open(src).read().splitlines()
        path = os.path.join(work, f"{side}.csv")
        with open(path, "w") as f:
            f.write("\n".join([lines[0]] + [x for x in lines[1:] if keep(int(x.split(",")[0]))]) + "\n")
        files[side] = path
    upload({"subset_g": files["g"], "subset_h": files["h"]})
    ids = {s: {x.split(",")[0] for x in open(files[s]).read().splitlines()[1:]} for s in files}
    common_ids = ids["g"] & ids["h"]
    check(0 < len(common_ids) < min(len(ids["g"]), len(ids["h"])), "each side holds ids the other lacks")
    for method in ["ecdh", "rsa", "raw"]:
        p, reader_0, dt_0 = hetero_start("subset_g", "subset_h")
        params = {"intersect_method": method}
        if method == "rsa":
            params["rsa_params"] = {"key_length": 1024}
        inter_0 = Intersection(name="intersection_0", **params)
        p.add_component(inter_0, data=Data(data=dt_0.output.data))
        p.compile()
        p.fit()
        summary = p.get_component("intersection_0").get_summary()
        count = summary.get("intersect_num", summary.get("intersect_count"))
        check(count == len(common_ids), f"{method}: summary counts {count} = plaintext {len(common_ids)}")
        g = p.get_component("intersection_0").get_output_data()
        h = TaskInfo(p.get_train_job_id(), inter_0, p._job_invoker, role="host", party_id=HOST).get_output_data()
        check(set(map(str, g.iloc[:, 0])) == common_ids, f"{method}: the guest keeps exactly the common ids")
        check(set(map(str, h.iloc[:, 0])) == common_ids, f"{method}: the host keeps exactly the common ids")


if __name__ == "__main__":
    main()
