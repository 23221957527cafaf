"""Intersection through FATE's pipeline SDK, each method: the count and the rows each
party keeps equal the plaintext intersection of the two files."""
import os
import tempfile

from common import DATA, GUEST, HOST, check, table, upload
from pipeline.backend.pipeline import PipeLine
from pipeline.backend.task_info import TaskInfo
from pipeline.component import DataTransform, Intersection, Reader
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
        p = PipeLine().set_initiator(role="guest", party_id=GUEST)
        p.set_roles(guest=GUEST, host=HOST)
        reader_0 = Reader(name="reader_0")
        reader_0.get_party_instance(role="guest", party_id=GUEST).component_param(table=table("subset_g"))
        reader_0.get_party_instance(role="host", party_id=HOST).component_param(table=table("subset_h"))
        dt_0 = DataTransform(name="data_transform_0")
        dt_0.get_party_instance(role="guest", party_id=GUEST).component_param(with_label=True)
        dt_0.get_party_instance(role="host", party_id=HOST).component_param(with_label=False)
        params = {"intersect_method": method}
        if method == "rsa":
            params["rsa_params"] = {"key_length": 1024}
        inter_0 = Intersection(name="intersection_0", **params)
        p.add_component(reader_0)
        p.add_component(dt_0, data=Data(data=reader_0.output.data))
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
