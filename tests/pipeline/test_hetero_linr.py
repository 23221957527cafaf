"""HeteroLinR through FATE's pipeline SDK, after a min-max FeatureScale: fit, summary,
loss series, output data, evaluation. The RMSE is checked against a plaintext linear
regression with the same optimiser, and the Evaluation's metrics against the output."""
import numpy as np
from common import check, dump, hetero_start, joined, metric_points, metrics, upload
from pipeline.component import Evaluation, FeatureScale, HeteroLinR, Intersection
from pipeline.interface import Data

MAX_ITER, LR = 20, 0.3


def minmax(x):
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (x - lo) / span


def plaintext_rmse():
    _, gx, hx, y = joined("student_hetero_guest.csv", "student_hetero_host.csv")
    x = np.hstack([minmax(gx), minmax(hx), np.ones((len(y), 1))])
    w = np.zeros(x.shape[1])
    for t in range(MAX_ITER):
        g = x.T @ (x @ w - y) / len(y)
        w -= LR / np.sqrt(1 + t) * g
    return float(np.sqrt(np.mean((x @ w - y) ** 2)))


def main():
    upload({"student_g": "student_hetero_guest.csv", "student_h": "student_hetero_host.csv"})
    p, reader_0, dt_0 = hetero_start("student_g", "student_h", arbiter=True, label_type="float")
    inter_0 = Intersection(name="intersection_0")
    scale_0 = FeatureScale(name="feature_scale_0", method="min_max_scale")
    linr_0 = HeteroLinR(name="hetero_linr_0", penalty="None", optimizer="sgd", learning_rate=LR,
                        max_iter=MAX_ITER, batch_size=-1, tol=1e-12, early_stop="diff",
                        init_param={"init_method": "zeros"}, encrypt_param={"key_length": 1024})
    eval_0 = Evaluation(name="evaluation_0", eval_type="regression")
    p.add_component(inter_0, data=Data(data=dt_0.output.data))
    p.add_component(scale_0, data=Data(data=inter_0.output.data))
    p.add_component(linr_0, data=Data(train_data=scale_0.output.data))
    p.add_component(eval_0, data=Data(data=linr_0.output.data))
    p.compile()
    p.fit()

    summary = p.get_component("hetero_linr_0").get_summary()
    dump("summary", summary)
    loss = metric_points(metrics(p, "hetero_linr_0"), "train", "loss")
    check(len(loss) == MAX_ITER, f"metric/all answers the whole loss series ({len(loss)} points)")
    out = p.get_component("hetero_linr_0").get_output_data()
    check(list(out.columns)[-5:] == ["label", "predict_result", "predict_score", "predict_detail", "type"],
          "output data has FATE's prediction columns")
    detail = out["predict_detail"].iloc[0]
    check(abs(float(detail["label"]) - float(out["predict_result"].iloc[0])) < 1e-9,
          "a regression's predict_detail is {label: prediction}")
    y = out["label"].astype(float).values
    pred = out["predict_result"].astype(float).values
    ours = float(np.sqrt(np.mean((pred - y) ** 2)))
    reference = plaintext_rmse()
    dump("rmse", {"ours": ours, "plaintext": reference})
    check(abs(ours - reference) <= 0.01 * reference, f"RMSE {ours:.5f} within 1% of plaintext {reference:.5f}")
    ev = dict(metric_points(metrics(p, "evaluation_0"), "train", "hetero_linr_0"))
    dump("evaluation", ev)
    check(abs(float(ev.get("root_mean_squared_error", -1)) - ours) < 1e-6,
          "Evaluation's RMSE equals the RMSE of the output data")
    r2 = 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)
    check(abs(float(ev.get("r2_score", -9)) - r2) < 1e-6, "Evaluation's r2 equals the r2 of the output data")


if __name__ == "__main__":
    main()
