//! Removing what a test made on the shared PostgreSQL and Redis: its database and the keys
//! under its Redis prefix. Blocking, so `Drop` impls can call it (on a thread of their own,
//! since a test's runtime may be the one dropping).

/// The PostgreSQL server every test uses.
pub(crate) const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
/// The Redis server every test uses.
pub(crate) const REDIS: &str = "redis://127.0.0.1:6379/0";

/// Drops `database` (disconnecting whoever still uses it) and deletes every queue key of
/// `redis_prefix` (`{tp:<prefix>:…}`), walking the whole keyspace with SCAN. Panics on
/// failure unless the thread is already panicking.
pub(crate) fn remove(database: Option<&str>, redis_prefix: Option<&str>) {
    let (database, redis_prefix) = (database.map(str::to_owned), redis_prefix.map(str::to_owned));
    let done = std::thread::spawn(move || {
        if let Some(prefix) = redis_prefix {
            let pattern = format!("{{tp:{prefix}:*");
            let mut conn = redis::Client::open(REDIS)
                .unwrap()
                .get_connection()
                .unwrap();
            let mut cursor = 0_u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1_000)
                    .query(&mut conn)
                    .unwrap();
                if !keys.is_empty() {
                    let _: usize = redis::cmd("DEL").arg(&keys).query(&mut conn).unwrap();
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        if let Some(name) = database {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let (client, conn) =
                    tokio_postgres::connect(&format!("{POSTGRES}/postgres"), tokio_postgres::NoTls)
                        .await
                        .unwrap();
                let conn = tokio::spawn(conn);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .unwrap();
                drop(client);
                let _ = conn.await;
            });
        }
    })
    .join();
    if done.is_err() && !std::thread::panicking() {
        panic!("could not remove the test's database or Redis keys");
    }
}
