use std::collections::HashSet;

use control_plane::{JobFilter, JobStatus, NewJob, PageRequest};
use serde_json::json;

use crate::support::TestDb;

#[tokio::test]
async fn keyset_pages_cover_every_match_once_newest_first() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let jobs: Vec<_> = (0..23)
        .map(|n| {
            let job_type = if n % 2 == 0 { "even" } else { "odd" };
            NewJob::new("default", job_type, json!({ "n": n }))
        })
        .collect();
    let ids: Vec<_> = store
        .enqueue_batch(jobs)
        .await
        .expect("batch")
        .into_iter()
        .map(|e| e.job.id)
        .collect();

    let filter = JobFilter {
        job_type: Some("even".into()),
        ..JobFilter::default()
    };
    let mut seen = Vec::new();
    let mut page = PageRequest {
        before: None,
        limit: 5,
    };
    let mut pages = 0;
    loop {
        let got = store.list(&filter, page).await.expect("page");
        pages += 1;
        assert!(got.jobs.len() <= 5);
        seen.extend(got.jobs.iter().map(|j| j.id));
        // Enqueueing meanwhile never shifts later pages (newer ids sort before the cursor).
        store
            .enqueue(NewJob::new("default", "even", json!("late")))
            .await
            .expect("late");
        match got.next {
            Some(next) => page.before = Some(next),
            None => break,
        }
    }
    let expected: Vec<_> = ids.iter().step_by(2).rev().copied().collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 3, "12 matches in pages of 5");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
}

#[tokio::test]
async fn filters_combine_status_type_and_queue() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let a = store
        .enqueue(NewJob::new("q1", "t1", json!(1)))
        .await
        .expect("a")
        .job
        .id;
    let b = store
        .enqueue(NewJob::new("q1", "t2", json!(2)))
        .await
        .expect("b")
        .job
        .id;
    let c = store
        .enqueue(NewJob::new("q2", "t1", json!(3)))
        .await
        .expect("c")
        .job
        .id;
    store.mark_started(b, "w").await.expect("start");

    let ids = |filter: JobFilter| {
        let store = store.clone();
        async move {
            store
                .list(&filter, PageRequest::default())
                .await
                .expect("list")
                .jobs
                .into_iter()
                .map(|j| j.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(JobFilter::default()).await, [c, b, a]);
    let queued = JobFilter {
        status: Some(JobStatus::Queued),
        ..JobFilter::default()
    };
    assert_eq!(ids(queued).await, [c, a]);
    let running = JobFilter {
        status: Some(JobStatus::Running),
        ..JobFilter::default()
    };
    assert_eq!(ids(running).await, [b]);
    let q1t1 = JobFilter {
        status: None,
        job_type: Some("t1".into()),
        queue: Some("q1".into()),
    };
    assert_eq!(ids(q1t1).await, [a]);
    let none = JobFilter {
        queue: Some("nope".into()),
        ..JobFilter::default()
    };
    assert!(ids(none).await.is_empty());
}
