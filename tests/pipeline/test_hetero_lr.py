"""HeteroLR through FATE's pipeline SDK: upload, fit with validation data, summary,
metric series, output data in FATE's columns, deploy, predict with a new reader and an
added evaluation. The AUC is checked against a plaintext logistic regression."""
import numpy as np
from common import auc, check, dump, hetero_start, joined, metric_points, metrics, reader, upload
from pipeline.backend.pipeline import PipeLine
from pipeline.component import Evaluation, HeteroLR, Intersection
from pipeline.interface import Data

MAX_ITER, LR, ALPHA = 15, 0.15, 0.01


def plaintext_auc():
    """Full-batch gradient descent on the joined data: same optimiser (sgd with FATE's
    sqrt decay), L2, learning rate, epochs and zero start."""
    _, gx, hx, y = joined("breast_hetero_guest.csv", "breast_hetero_host.csv")
    x = np.hstack([gx, hx, np.ones((len(y), 1))])
    w = np.zeros(x.shape[1])
    for t in range(MAX_ITER):
        p = 1 / (1 + np.exp(-x @ w))
        g = x.T @ (p - y) / len(y)
        g[:-1] += ALPHA * w[:-1]
        w -= LR / np.sqrt(1 + t) * g
    return auc(y, x @ w)


def main():
    upload({"breast_g": "breast_hetero_guest.csv", "breast_h": "breast_hetero_host.csv"})
    p, reader_0, dt_0 = hetero_start("breast_g", "breast_h", arbiter=True)
    inter_0 = Intersection(name="intersection_0")
    lr_0 = HeteroLR(name="hetero_lr_0", penalty="L2", alpha=ALPHA, optimizer="sgd",
                    learning_rate=LR, max_iter=MAX_ITER, batch_size=-1, tol=1e-12,
                    early_stop="diff", init_param={"init_method": "zeros"},
                    encrypt_param={"key_length": 1024})
    eval_0 = Evaluation(name="evaluation_0", eval_type="binary")
    p.add_component(inter_0, data=Data(data=dt_0.output.data))
    p.add_component(lr_0, data=Data(train_data=inter_0.output.data, validate_data=inter_0.output.data))
    p.add_component(eval_0, data=Data(data=lr_0.output.data))
    p.compile()
    p.fit()

    summary = p.get_component("hetero_lr_0").get_summary()
    dump("summary", summary)
    check(summary.get("is_converged") is False, "summary says the run did not converge (tol is tiny)")
    check(len(summary.get("loss_history", [])) == MAX_ITER, f"summary has {MAX_ITER} losses")
    loss = metric_points(metrics(p, "hetero_lr_0"), "train", "loss")
    check(len(loss) == MAX_ITER, f"metric/all answers the whole loss series ({len(loss)} points)")
    check(all(b[1] < a[1] for a, b in zip(loss, loss[1:])), "the loss falls every epoch")

    out = p.get_component("hetero_lr_0").get_output_data()
    dump("output columns", list(out.columns))
    check(list(out.columns)[-5:] == ["label", "predict_result", "predict_score", "predict_detail", "type"],
          "output data has FATE's prediction columns")
    # Validation rows share the training ids; FATE's union keeps the first (train) row.
    check(set(out["type"]) == {"train"} and len(out) == 569, "type names the data set, one row per id")
    detail = out["predict_detail"].iloc[0]
    score = float(out["predict_score"].iloc[0])
    check(abs(float(detail["1"]) - score) < 1e-12 and abs(float(detail["0"]) - (1 - score)) < 1e-12,
          "predict_detail parses (SDK) to the class probabilities")
    train = out[out["type"] == "train"]
    ours = auc(train["label"].astype(float).values, train["predict_score"].astype(float).values)
    reference = plaintext_auc()
    dump("auc", {"ours": ours, "plaintext": reference})
    check(abs(ours - reference) <= 0.005, f"AUC {ours:.5f} within 0.005 of plaintext {reference:.5f}")
    ev = metrics(p, "evaluation_0")
    reported = dict(metric_points(ev, "train", "hetero_lr_0")).get("auc")
    check(reported is not None and abs(float(reported) - ours) < 1e-6,
          f"Evaluation's AUC {reported} equals the AUC of the output data")

    p.deploy_component([dt_0, inter_0, lr_0])
    predict = PipeLine()
    reader_1 = reader("reader_1", "breast_g", "breast_h")
    eval_1 = Evaluation(name="evaluation_1", eval_type="binary")
    predict.add_component(reader_1)
    predict.add_component(p, data=Data(predict_input={p.data_transform_0.input.data: reader_1.output.data}))
    predict.add_component(eval_1, data=Data(data=lr_0.output.data))
    predict.predict()
    pout = predict.get_component("hetero_lr_0").get_output_data()
    check(set(pout["type"]) == {"predict"}, "predict rows are typed `predict`")
    scores = dict(zip(pout.iloc[:, 0], pout["predict_score"].astype(float)))
    same = all(abs(scores[i] - float(s)) < 1e-9 for i, s in zip(train.iloc[:, 0], train["predict_score"]))
    check(len(scores) == len(train) and same, "the deployed model scores every row as training did")
    pev = metrics(predict, "evaluation_1", predict=True)
    dump("predict evaluation", pev)
    check(abs(float(dict(metric_points(pev, "predict", "hetero_lr_0")).get("auc", -1)) - ours) < 1e-6,
          "the added evaluation scores the predictions (namespace `predict`, as FATE)")


if __name__ == "__main__":
    main()
