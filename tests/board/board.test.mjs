// Drives the Board in Chromium: job list, a finished job's DAG all green, the ROC
// chart with points, and a running task's log growing. Saves screenshots.
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
  check(violations.length === 0, `no Content Security Policy violations: ${violations.join(" | ")}`);
} finally {
  await browser.close();
}
console.log("board test passed");
