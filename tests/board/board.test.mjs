// Drives the Board in Chromium: job list, a finished job's DAG all green, the ROC
// chart with points, a running task's log growing, and the HeteroSecureBoost view
// of a hand-written model. Saves screenshots.
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_PATH + "/");
const { chromium } = require("playwright-core");

const base = process.env.BOARD_BASE;
const shots = process.env.BOARD_SHOTS;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(path, body) {
  const r = await fetch(`${base}/v1/${path}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const j = await r.json();
  if (j.retcode !== 0) throw new Error(`${path}: ${JSON.stringify(j)}`);
  return j;
}

async function waitJob(jobId, want, ms) {
  const t0 = Date.now();
  for (;;) {
    const j = await api("job/query", { job_id: jobId, is_initiator: 1 });
    const st = j.data[0].f_status;
    if (st === want) return;
    if (["failed", "canceled", "timeout"].includes(st)) throw new Error(`job ${jobId} ${st}: ${j.data[0].f_error_report}`);
    if (Date.now() - t0 > ms) throw new Error(`job ${jobId} still ${st}`);
    await sleep(200);
  }
}

// A guest's HeteroSecureBoost model with one host: two trees, guest and host splits.
function sbtModel() {
  const node = (id, site, fid, bid, l, r, w) => ({ id, sitename: site, fid, bid, weight: w || [], is_leaf: !!w, left_nodeid: l, right_nodeid: r, missing_dir: 1 });
  const g = "guest:9999", h = "host:10000";
  return {
    tree_num: 2, tree_dim: 1, num_classes: 2, classes_: ["0", "1"], init_score: [0.1], losses: [0.6, 0.5], best_iteration: -1,
    model_name: "hetero_sbt", multi_output: false, tree_plan: [], feature_name_fid_mapping: { "0": "x0", "1": "x1", "2": "x2" },
    feature_importances: [
      { sitename: g, fid: 2, importance: 2, fullname: "x2", importance2: 3.5, main: "split" },
      { sitename: h, fid: 0, importance: 1, fullname: "host_10000_x1", importance2: 0, main: "split" },
      { sitename: g, fid: 0, importance: 1, fullname: "x0", importance2: 1.25, main: "split" },
    ],
    trees_: [
      { tree_: [node(0, g, 2, 0.25, 1, 2), node(1, h, -1, -1, 3, 4), node(2, g, -1, -1, -1, -1, [0.5]), node(3, g, -1, -1, -1, -1, [-0.125]), node(4, g, -1, -1, -1, -1, [0.0625])],
        split_maskdict: { "0": 0.25 }, missing_dir_maskdict: { "0": 1 }, leaf_count: { "2": 10, "3": 5, "4": 7 } },
      { tree_: [node(0, g, 0, 1.5, 1, 2), node(1, g, -1, -1, -1, -1, [0.2]), node(2, g, -1, -1, -1, -1, [-0.3])],
        split_maskdict: { "0": 1.5 }, missing_dir_maskdict: { "0": -1 }, leaf_count: { "1": 12, "2": 10 } },
    ],
  };
}

function check(cond, msg) {
  if (!cond) throw new Error("check failed: " + msg);
  console.log("ok -", msg);
}

const upload = (file, table) => api("data/upload", { file, head: 1, partition: 2, namespace: "board", table_name: table, use_local_data: 0, drop: 1 });
await upload("predictions.csv", "predictions");
await upload("breast_hetero_guest.csv", "breast_hetero_guest");
await upload("breast_hetero_host.csv", "breast_hetero_host");

const evalJob = (await api("job/submit", {
  job_dsl: { components: {
    reader_0: { module: "Reader", output: { data: ["data"] } },
    evaluation_0: { module: "Evaluation", input: { data: { data: ["reader_0.data"] } }, output: { data: ["data"] } },
  } },
  job_runtime_conf: {
    dsl_version: 2, initiator: { role: "guest", party_id: 9999 }, role: { guest: [9999] },
    job_parameters: { common: { task_cores: 1 } },
    component_parameters: { common: { evaluation_0: { eval_type: "binary" } },
      role: { guest: { "0": { reader_0: { table: { name: "predictions", namespace: "board" } } } } } },
  },
})).jobId;
await waitJob(evalJob, "success", 120000);
console.log("evaluation job", evalJob, "succeeded");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => { console.error("page error:", e); process.exitCode = 1; });
  // The Board runs under a self-only CSP: any violation (inline style or script) fails.
  const violations = [];
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });

  // 1. The job list.
  const resp = await page.goto(base + "/");
  const csp = resp.headers()["content-security-policy"] || "";
  check(csp.includes("script-src 'self'") && resp.headers()["x-frame-options"] === "DENY", `the page is served with a CSP and X-Frame-Options: ${csp}`);
  await page.waitForSelector(`tr[data-job="${evalJob}"]`, { timeout: 15000 });
  check(await page.locator(`tr[data-job="${evalJob}"] [data-status="success"]`).count() === 1, "job list shows the finished job as success");
  await page.screenshot({ path: `${shots}/01-job-list.png`, fullPage: true });

  // 2. The finished job's DAG: every node success.
  await page.click(`tr[data-job="${evalJob}"] a`);
  await page.waitForSelector('[data-testid="dag-node"]', { timeout: 15000 });
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="dag-node"]')].every((n) => n.dataset.status === "success"), null, { timeout: 15000 });
  const nodes = await page.locator('[data-testid="dag-node"]').count();
  check(nodes === 2, `DAG shows ${nodes} nodes, all success`);
  await page.screenshot({ path: `${shots}/02-job-dag.png`, fullPage: true });

  // 3. The ROC chart has data points.
  await page.click('[data-testid="dag-node"][data-component="evaluation_0"]');
  await page.waitForSelector('svg[data-metric="ROC"]', { timeout: 15000 });
  const points = Number(await page.locator('svg[data-metric="ROC"]').first().getAttribute("data-points"));
  check(points > 2, `ROC chart has ${points} points`);
  await page.locator('svg[data-metric="ROC"]').first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/03-roc-chart.png`, fullPage: true });

  // 4. Follow a running task's log and see new lines arrive.
  const runJob = (await api("job/submit", {
    job_dsl: { components: {
      reader_0: { module: "Reader", output: { data: ["data"] } },
      data_transform_0: { module: "DataTransform", input: { data: { data: ["reader_0.data"] } }, output: { data: ["data"], model: ["model"] } },
    } },
    job_runtime_conf: {
      dsl_version: 2, initiator: { role: "guest", party_id: 9999 }, role: { guest: [9999], host: [10000] },
      job_parameters: { common: { task_cores: 1 } },
      component_parameters: { role: {
        guest: { "0": { reader_0: { table: { name: "breast_hetero_guest", namespace: "board" } }, data_transform_0: { with_label: true } } },
        host: { "0": { reader_0: { table: { name: "breast_hetero_host", namespace: "board" } }, data_transform_0: { with_label: false } } },
      } },
    },
  })).jobId;
  await page.goto(`${base}/#/job/${runJob}`);
  await page.waitForSelector('[data-testid="dag-node"][data-component="reader_0"][data-status="running"]', { timeout: 20000 });
  await page.click('[data-testid="dag-node"][data-component="reader_0"]');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="log"]')?.dataset.lines || 0) > 0, null, { timeout: 15000 });
  const before = Number(await page.locator('[data-testid="log"]').getAttribute("data-lines"));
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="log"]').dataset.lines) > n, before, { timeout: 15000 });
  const after = Number(await page.locator('[data-testid="log"]').getAttribute("data-lines"));
  check(after > before, `log grew from ${before} to ${after} lines while the task ran`);
  await page.screenshot({ path: `${shots}/04-live-log.png`, fullPage: true });
  await waitJob(runJob, "success", 120000);

  // 5. Data and models: a table preview and the model list.
  await page.goto(`${base}/#/tables`);
  await page.click('a[data-ns="board"][data-name="breast_hetero_guest"]');
  await page.waitForSelector('[data-testid="preview"] tbody tr', { timeout: 15000 });
  check(await page.locator('[data-testid="preview"] tbody tr').count() === 20, "table preview shows the first 20 rows");
  await page.screenshot({ path: `${shots}/05-table-preview.png`, fullPage: true });
  await page.goto(`${base}/#/models`);
  await page.waitForSelector('[data-testid="models"] tbody tr td a', { timeout: 15000 });
  const models = await page.locator('[data-testid="models"] tbody tr').count();
  check(models === 2, `model list shows the 2 DataTransform models (guest, host): ${models}`);
  await page.screenshot({ path: `${shots}/06-models.png`, fullPage: true });

  // 6. A HeteroSecureBoost model (written by hand, served in place of the DataTransform
  // model): importance bars, the tree selector and the trees; the loss and per-round
  // validation curves; a broken model on the host's tab shows a message.
  await page.route("**/v1/tracking/component/output/model", async (route) => {
    const q = route.request().postDataJSON();
    if (q.component_name !== "data_transform_0") return route.continue();
    const model = q.role === "guest" ? sbtModel() : { trees_: [{ tree_: [] }] };
    await route.fulfill({ contentType: "application/json", body: JSON.stringify({ retcode: 0, retmsg: "success", data: model,
      meta: { module_name: "HeteroSecureBoost", model_alias: "model", component_name: "data_transform_0", meta_data: { task_type: "classification", learning_rate: 0.3, use_missing: true, objective_meta: { objective: "cross_entropy" } } } }) });
  });
  await page.route("**/v1/tracking/component/metric/all", async (route) => {
    const q = route.request().postDataJSON();
    if (q.component_name !== "data_transform_0") return route.continue();
    const it = (r, auc) => ({ data: [["auc", auc], ["ks", auc / 2]], meta: { metric_type: "EVALUATION_SUMMARY" } });
    await route.fulfill({ contentType: "application/json", body: JSON.stringify({ retcode: 0, retmsg: "success", data: {
      train: { loss: { data: [[0, 0.6], [1, 0.5], [2, 0.45]], meta: { metric_type: "LOSS" } }, iteration_0: it(0, 0.8), iteration_1: it(1, 0.85), iteration_2: it(2, 0.9) } } }) });
  });
  await page.goto(`${base}/#/job/${runJob}`);
  await page.waitForSelector('[data-testid="dag-node"][data-component="data_transform_0"]', { timeout: 15000 });
  await page.click('[data-testid="dag-node"][data-component="data_transform_0"]');
  await page.click('#ptabs button:has-text("guest:9999")');
  await page.waitForSelector('[data-testid="sbt-tree"] ul.sbt-tree', { timeout: 15000 });
  const bars = await page.locator('[data-testid="sbt-bar"]').evaluateAll((gs) => gs.map((g) => g.textContent.replace(/\s+/g, " ").trim()));
  check(bars.length === 3 && bars[0].includes("x2") && bars[0].includes("gain 3.5") && bars.some((b) => b.includes("host_10000_x1") && !b.includes("gain")),
    `feature importance bars, guest gain shown, host feature by its anonymous name: ${bars.join(" | ")}`);
  check(await page.locator('[data-testid="sbt-tree-select"] option').count() === 2, "the tree selector lists both trees");
  let tree = await page.locator('[data-testid="sbt-tree"]').textContent();
  check(tree.includes("x2 ≤ 0.25") && tree.includes("host:10000") && tree.includes("weight -0.125") && tree.includes("5 rows") && !tree.includes("x0"),
    `tree 0: guest split by name and value, host split by site, leaves with weight and count: ${tree.replace(/\s+/g, " ")}`);
  check(await page.locator('[data-testid="sbt-leaf"]').count() === 3, "tree 0 has 3 leaves");
  await page.selectOption('[data-testid="sbt-tree-select"]', "1");
  await page.waitForSelector('ul.sbt-tree[data-tree="1"]', { timeout: 5000 });
  tree = await page.locator('[data-testid="sbt-tree"]').textContent();
  check(tree.includes("x0 ≤ 1.5") && tree.includes("weight 0.2"), `tree 1 after selecting it: ${tree.replace(/\s+/g, " ")}`);
  const loss = await page.locator('svg[data-metric="LOSS"]').getAttribute("data-points");
  const auc = await page.locator('svg[data-metric="AUC"]').getAttribute("data-points");
  check(loss === "3" && auc === "3", `loss curve (${loss} points) and per-round validation AUC curve (${auc} points)`);
  await page.locator('[data-testid="sbt"]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/07-secureboost.png`, fullPage: true });
  await page.click('#ptabs button:has-text("host:10000")');
  await page.waitForSelector('[data-testid="sbt-error"]', { timeout: 15000 });
  const msg = await page.locator('[data-testid="sbt-error"]').first().textContent();
  check(/cannot be shown/.test(msg), `a broken model shows a message: ${msg}`);
  await page.unroute("**/v1/tracking/component/output/model");
  await page.unroute("**/v1/tracking/component/metric/all");

  // 7. Audit: a grant made through the API shows as the partner's grant and as an
  // operator entry of a verified hash chain.
  await api("permission/grant", { party_id: 9998, component: "reader,heterolr", dataset: [{ namespace: "board", name: "breast_hetero_guest" }] });
  await page.goto(`${base}/#/audit`);
  await page.waitForSelector('[data-testid="chain"] [data-ok]', { timeout: 15000 });
  check(await page.locator('[data-testid="chain"] [data-ok="true"]').count() === 1, "the audit page says the hash chain verifies");
  const grantRow = await page.locator('[data-testid="grants"] tbody tr').first().textContent();
  check(grantRow.includes("9998") && grantRow.includes("heterolr") && grantRow.includes("board.breast_hetero_guest"), `the partner's grants are listed: ${grantRow}`);
  await page.waitForSelector('[data-testid="audit"] tbody tr[data-seq]', { timeout: 15000 });
  const entry = await page.locator('[data-testid="audit"] tbody tr[data-seq]').first().textContent();
  check(entry.includes("permission/grant") && entry.includes("operator"), `the grant is in the log: ${entry.replace(/\s+/g, " ")}`);
  await page.screenshot({ path: `${shots}/08-audit.png`, fullPage: true });

  await page.goto(`${base}/#/serving`);
  await page.waitForSelector('[data-testid="bindings"] tbody tr', { timeout: 15000 });
  const none = await page.locator('[data-testid="bindings"] tbody').textContent();
  check(none.includes("No service id is bound"), `the serving page says nothing is bound yet: ${none}`);

  await page.goto(`${base}/#/cluster`);
  await page.waitForSelector("#c-lease p", { timeout: 15000 });
  const alone = await page.locator("#c-lease").textContent();
  check(alone.includes("runs the site alone"), `the servers page says this server is alone: ${alone}`);

  check(violations.length === 0, `no Content Security Policy violations: ${violations.join(" | ")}`);
} finally {
  await browser.close();
}
console.log("board test passed");
