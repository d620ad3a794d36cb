//! Reads: one job with its audit trail, a job's trail alone, and filtered keyset pages.

use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, IsolationLevel};

use super::JobStore;
use super::page_limit;
use super::rows::{AUDIT_COLUMNS, JOB_COLUMNS, audit_from_row, job_from_row};
use crate::error::{Error, Result};
use crate::job::{AuditEntry, JobDetail, JobFilter, JobId, JobPage, PageRequest};

impl JobStore {
    /// The job and its audit trail, oldest entry first, read from one snapshot.
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no such job (or it was purged); [`Error::Pool`] /
    /// [`Error::Db`] on database failure.
    pub async fn get(&self, id: JobId) -> Result<JobDetail> {
        let mut client = self.pool.get().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let row = tx
            .query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
                &[&id.as_uuid()],
            )
            .await?
            .ok_or(Error::NotFound(id))?;
        let job = job_from_row(&row)?;
        let audit = trail(&*tx, id).await?;
        tx.commit().await?;
        Ok(JobDetail { job, audit })
    }

    /// A job's audit trail, oldest first. It outlives the job: a purged dead letter's trail
    /// ends with `purged`. Empty for an id that never existed.
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn audit_trail(&self, id: JobId) -> Result<Vec<AuditEntry>> {
        let client = self.pool.get().await?;
        trail(&**client, id).await
    }

    /// A page of jobs matching `filter`, newest first. Keyset pagination on the time-ordered
    /// id: pages stay stable and cheap however deep the caller goes, and jobs enqueued
    /// meanwhile never shift later pages.
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn list(&self, filter: &JobFilter, page: PageRequest) -> Result<JobPage> {
        let status = filter.status.map(|s| s.as_str());
        let before = page.before.map(|id| id.as_uuid());
        let limit = page_limit(page.limit);
        // Only the filters in use become predicates, so each combination gets a plan that
        // uses its index rather than a generic `($1 IS NULL OR …)` plan.
        let mut predicates = Vec::new();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(s) = &status {
            params.push(s);
            predicates.push(format!("status = ${}", params.len()));
        }
        if let Some(t) = &filter.job_type {
            params.push(t);
            predicates.push(format!("job_type = ${}", params.len()));
        }
        if let Some(q) = &filter.queue {
            params.push(q);
            predicates.push(format!("queue = ${}", params.len()));
        }
        if let Some(b) = &before {
            params.push(b);
            predicates.push(format!("id < ${}", params.len()));
        }
        // One extra row tells whether a next page exists.
        let fetch = limit + 1;
        params.push(&fetch);
        let where_clause = if predicates.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", predicates.join(" AND "))
        };
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs {where_clause} ORDER BY id DESC LIMIT ${}",
            params.len()
        );
        let client = self.pool.get().await?;
        let rows = client.query(&sql, &params).await?;
        let mut jobs = rows.iter().map(job_from_row).collect::<Result<Vec<_>>>()?;
        let more = jobs.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        jobs.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = if more {
            jobs.last().map(|j| j.id)
        } else {
            None
        };
        Ok(JobPage { jobs, next })
    }
}

async fn trail<C: GenericClient>(client: &C, id: JobId) -> Result<Vec<AuditEntry>> {
    let rows = client
        .query(
            &format!("SELECT {AUDIT_COLUMNS} FROM job_audit WHERE job_id = $1 ORDER BY id"),
            &[&id.as_uuid()],
        )
        .await?;
    rows.iter().map(audit_from_row).collect()
}
