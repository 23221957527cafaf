"""FATE 2.2's SSHELR on a hetero data set, for bench/sshe.sh.

Runs in the venv that ../shared/peers/fate2.sh installs, against the FATE-Flow 2.2
server it started (KEEP_SERVER=1): uploads <dataset>_guest.csv / _host.csv, runs
reader -> PSI -> SSHELR -> Evaluation (guest 9999, host 10000), prints one JSON line
`FATE2_SSHE {...}` with the job's and the task's seconds, AUC and KS.
"""
import json
import os
import sys
import time

from fate_client.flow_sdk import FlowClient
from fate_client.pipeline import FateFlowPipeline
from fate_client.pipeline.components.fate import PSI, SSHELR, Evaluation, Reader

data_dir, port, dataset, epochs, lr, reveal = (
    sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6] == "true")
GUEST, HOST, NS = "9999", "10000", "bench_sshe"


def upload(name, label):
    meta = {"delimiter": ",", "dtype": "float32", "input_format": "dense", "match_id_name": "id",
            "match_id_range": 0, "tag_value_delimiter": ":", "tag_with_value": False, "weight_type": "float32"}
    meta.update({"label_type": "int32", "label_name": "y"} if label else {"label_type": "int"})
    p = FateFlowPipeline().set_parties(local="0")
    p.set_site_role("local")
    p.set_site_party_id("0")
    p.transform_local_file_to_dataframe(file=os.path.join(data_dir, name + ".csv"), meta=meta, head=True,
                                        extend_sid=True, namespace=NS, name=name)


upload(dataset + "_guest", True)
upload(dataset + "_host", False)
pl = FateFlowPipeline().set_parties(guest=GUEST, host=HOST)
reader = Reader("reader_0", runtime_parties=dict(guest=GUEST, host=HOST))
reader.guest.task_parameters(namespace=NS, name=dataset + "_guest")
reader.hosts[0].task_parameters(namespace=NS, name=dataset + "_host")
psi = PSI("psi_0", input_data=reader.outputs["output_data"])
sshe = SSHELR("sshe_lr_0", epochs=epochs, batch_size=None, learning_rate=lr, tol=0.0,
              init_param={"fit_intercept": True, "method": "zeros"}, reveal_every_epoch=reveal,
              train_data=psi.outputs["output_data"])
ev = Evaluation("evaluation_0", runtime_parties=dict(guest=GUEST), default_eval_setting="binary",
                input_datas=[sshe.outputs["train_output_data"]])
pl.add_tasks([reader, psi, sshe, ev])
pl.compile()
t0 = time.time()
pl.fit()
wall = time.time() - t0
client = FlowClient(ip="127.0.0.1", port=port, version="v2")
job_id = pl.model_info.job_id
tasks = {t["task_name"]: (t.get("elapsed") or 0) / 1000
         for t in client.task.query(job_id=job_id, role="guest", party_id=GUEST)["data"]}
auc = ks = None
for m in pl.get_task_info("evaluation_0").get_output_metric():
    for sets in m.get("data", {}).values():
        for item in sets.get("train_set", []):
            for it in (item if isinstance(item, list) else [item]):
                auc = it["val"] if it.get("metric") == "auc" else auc
                ks = it["val"] if it.get("metric") == "ks" else ks
print("FATE2_SSHE " + json.dumps({"job_id": job_id, "job_wall_s": round(wall, 2), "task_s": tasks,
                                  "sshe_s": tasks.get("sshe_lr_0"), "auc": auc, "ks": ks, "epochs": epochs}))
