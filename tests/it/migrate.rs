//! `tradeplane migrate` against the real PostgreSQL: creates a missing database, applies the
//! control plane's migrations once, and names the setting when PostgreSQL does not answer.

use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio_postgres::NoTls;

use super::cleanup::POSTGRES as SERVER;

fn migrate(url: &str, extra: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tradeplane"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TRADEPLANE_") {
            c.env_remove(k);
        }
    }
    c.args(["--log-format", "pretty", "migrate"])
        .args(extra)
        .env("TRADEPLANE_POSTGRES__URL", url)
        .output()
        .unwrap()
}

/// A database name no other test uses.
fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("tp_it_migrate_{}_{nanos}", std::process::id())
}

/// Drops the database when the test ends, passed or failed.
struct DropDatabase(String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        super::cleanup::remove(Some(&self.0), None);
    }
}

#[tokio::test]
async fn migrate_creates_the_database_applies_once_and_is_idempotent() {
    let name = unique_name();
    let _cleanup = DropDatabase(name.clone());
    let url = format!("{SERVER}/{name}");

    let first = migrate(&url, &[]);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout.contains("created the database"), "{stdout}");
    assert!(stdout.contains("applied now: [1"), "{stdout}");

    let second = migrate(&url, &[]);
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{stdout}");
    assert!(!stdout.contains("created the database"), "{stdout}");
    assert!(
        stdout.contains("applied now: none (up to date)"),
        "{stdout}"
    );

    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    let conn = tokio::spawn(conn);
    let versions: Vec<i32> = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions.first(), Some(&1), "{versions:?}");
    let jobs: i64 = client
        .query_one("SELECT count(*) FROM jobs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(jobs, 0, "the jobs table exists and is empty");
    drop(client);
    let _ = conn.await;
}

#[test]
fn migrate_without_create_refuses_a_missing_database() {
    let name = unique_name();
    let _cleanup = DropDatabase(name.clone());
    let out = migrate(&format!("{SERVER}/{name}"), &["--no-create-database"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tradeplane: postgres:"), "{stderr}");
    assert!(stderr.contains(&name), "names the database: {stderr}");
}

#[test]
fn migrate_names_the_setting_when_postgres_does_not_answer() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let out = migrate("postgres://postgres@127.0.0.1:1/tradeplane", &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TRADEPLANE_POSTGRES__URL"),
        "names the setting: {stderr}"
    );
}
