//! A job's DSL and conf are parsed once per run, not at every round, task start and
//! model save: the initiator and the party controller share the parsed job.

mod harness;

use fateflow_domain::Status;
use harness::*;

#[tokio::test]
async fn a_three_party_run_parses_its_job_once() {
    let site = Site::start().await;
    let (dsl, conf) = three_party_job();
    let job_id = site.submit(&dsl, &conf).await;
    let job = site.wait_end(&job_id).await;
    assert_eq!(job.status, Status::Success, "{}", site.dump(&job_id).await);
    let cache = site.controller.parsed_jobs();
    // Submit parses it and hands the parse over under the new id: every later
    // lookup (create at three parties, rounds, task starts, model saves) hits.
    println!(
        "parses of a three-party run: {} with the cache (plus the submit's), {} lookups without it",
        cache.parses(),
        cache.lookups()
    );
    assert_eq!(cache.parses(), 0);
    assert!(cache.lookups() >= 7, "{}", cache.lookups());
}
