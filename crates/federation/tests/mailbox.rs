//! The mailbox: delivery, idempotent keys, timeouts naming the party, spill, TTL.

use fateflow_domain::{Party, Role};
use fateflow_federation::{Error, Key, Mailbox, MailboxConfig};
use std::sync::Arc;
use std::time::Duration;

fn key(tag: &str) -> Key {
    Key {
        session: "job_cpn_0".into(),
        name: "pubkey".into(),
        tag: tag.into(),
        src: Party {
            role: Role::Guest,
            party_id: 9999,
        },
        dst: Party {
            role: Role::Host,
            party_id: 10000,
        },
    }
}

fn mailbox(memory_limit: usize, ttl: Duration, dir: &std::path::Path) -> Mailbox {
    Mailbox::new(MailboxConfig {
        memory_limit,
        spill_dir: dir.to_path_buf(),
        ttl,
        max_message: 1 << 20,
    })
}

#[tokio::test]
async fn get_waits_for_a_later_put() {
    let dir = tempfile::tempdir().unwrap();
    let mb = Arc::new(mailbox(1 << 20, Duration::from_secs(60), dir.path()));
    let mb2 = mb.clone();
    let waiter = tokio::spawn(async move { mb2.get(&key("a"), Duration::from_secs(5)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(mb.put(key("a"), b"hello".to_vec()).unwrap());
    assert_eq!(waiter.await.unwrap().unwrap(), b"hello");
}

#[tokio::test]
async fn same_key_twice_is_harmless() {
    let dir = tempfile::tempdir().unwrap();
    let mb = mailbox(1 << 20, Duration::from_secs(60), dir.path());
    assert!(mb.put(key("a"), b"first".to_vec()).unwrap());
    assert!(!mb.put(key("a"), b"second".to_vec()).unwrap());
    assert_eq!(
        mb.get(&key("a"), Duration::from_secs(1)).await.unwrap(),
        b"first"
    );
    // A resend after delivery is ignored too, so a retrying sender cannot feed a
    // stale value to a later get of the same key.
    assert!(!mb.put(key("a"), b"third".to_vec()).unwrap());
    assert_eq!(mb.stats().messages, 0);
}

#[tokio::test]
async fn timeout_names_the_silent_party() {
    let dir = tempfile::tempdir().unwrap();
    let mb = mailbox(1 << 20, Duration::from_secs(60), dir.path());
    let err = mb
        .get(&key("never"), Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("guest:9999") && msg.contains("pubkey"),
        "{msg}"
    );
}

#[tokio::test]
async fn memory_is_bounded_by_spilling_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mb = mailbox(1000, Duration::from_secs(60), dir.path());
    for i in 0..10 {
        mb.put(key(&format!("t{i}")), vec![i as u8; 400]).unwrap();
    }
    let stats = mb.stats();
    assert!(stats.memory_bytes <= 1000, "{stats:?}");
    assert_eq!(stats.spilled, 8, "{stats:?}");
    for i in 0..10 {
        assert_eq!(
            mb.get(&key(&format!("t{i}")), Duration::from_secs(1))
                .await
                .unwrap(),
            vec![i as u8; 400]
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "spill files are removed on delivery"
    );
}

#[tokio::test]
async fn unclaimed_messages_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mb = mailbox(10, Duration::from_millis(50), dir.path());
    mb.put(key("a"), vec![1; 100]).unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(mb.sweep(), 1);
    assert_eq!(mb.stats().messages, 0);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn bad_keys_and_large_messages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mb = mailbox(1 << 20, Duration::from_secs(60), dir.path());
    let mut k = key("a");
    k.name = "../etc".into();
    assert!(matches!(mb.put(k, vec![]), Err(Error::BadKey(_))));
    assert!(matches!(
        mb.put(key("big"), vec![0; (1 << 20) + 1]),
        Err(Error::TooLarge { .. })
    ));
}

mod streamed {
    use fateflow_domain::{Party, Role};
    use fateflow_federation::{Delivered, Key, Mailbox, MailboxConfig, STREAM_MEMORY_BYTES};
    use std::time::Duration;

    fn key(name: &str) -> Key {
        Key {
            session: "s_0".into(),
            name: name.into(),
            tag: "t".into(),
            src: Party {
                role: Role::Guest,
                party_id: 9999,
            },
            dst: Party {
                role: Role::Host,
                party_id: 10000,
            },
        }
    }

    fn mailbox(dir: &std::path::Path, max: usize) -> Mailbox {
        Mailbox::new(MailboxConfig {
            memory_limit: 1 << 30,
            spill_dir: dir.join("spill"),
            ttl: Duration::from_secs(60),
            max_message: max,
        })
    }

    #[tokio::test]
    async fn a_long_message_goes_to_disk_as_it_is_written_and_comes_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mb = mailbox(dir.path(), 1 << 30);
        let piece: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        let mut w = mb.writer(key("big")).unwrap();
        for _ in 0..(STREAM_MEMORY_BYTES / piece.len() + 3) {
            w.write(&piece).unwrap();
        }
        let size = w.size();
        // Spilled before finishing: the file exists while the message is written.
        assert_eq!(
            std::fs::read_dir(dir.path().join("spill")).unwrap().count(),
            1
        );
        assert!(w.finish().unwrap());
        assert_eq!(mb.stats().memory_bytes, 0, "nothing of it in memory");
        match mb
            .get_delivered(&key("big"), Duration::from_secs(1))
            .await
            .unwrap()
        {
            Delivered::File(path) => {
                let bytes = std::fs::read(&path).unwrap();
                assert_eq!(bytes.len(), size);
                assert!(bytes.chunks(piece.len()).all(|c| c == &piece[..c.len()]));
            }
            Delivered::Memory(_) => panic!("a message above the threshold must be spilled"),
        }
        // The key was delivered: a second copy is ignored.
        let mut again = mb.writer(key("big")).unwrap();
        again.write(b"x").unwrap();
        assert!(!again.finish().unwrap());
    }

    #[test]
    fn a_message_over_the_limit_is_refused_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mb = mailbox(dir.path(), STREAM_MEMORY_BYTES + 10);
        let mut w = mb.writer(key("toobig")).unwrap();
        w.write(&vec![0u8; STREAM_MEMORY_BYTES]).unwrap();
        w.write(&[0u8; 8]).unwrap();
        let e = w.write(&[0u8; 8]).unwrap_err().to_string();
        assert!(e.contains("above the limit"), "{e}");
        drop(w);
        let files = std::fs::read_dir(dir.path().join("spill"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(files, 0, "an abandoned message leaves nothing behind");
        assert!(!mb.has_seen(&key("toobig")));
    }

    #[tokio::test]
    async fn a_short_message_stays_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mb = mailbox(dir.path(), 1 << 20);
        let mut w = mb.writer(key("small")).unwrap();
        w.write(b"hello ").unwrap();
        w.write(b"world").unwrap();
        assert!(w.finish().unwrap());
        assert_eq!(
            mb.get(&key("small"), Duration::from_secs(1)).await.unwrap(),
            b"hello world"
        );
    }
}

#[test]
fn a_party_over_its_quota_is_refused_by_name_until_its_messages_are_taken() {
    let dir = tempfile::tempdir().unwrap();
    let mb = mailbox(1 << 20, Duration::from_secs(60), dir.path()).with_party_quota(1000);
    assert!(mb.put(key("a"), vec![1; 600]).unwrap());
    let e = mb.put(key("b"), vec![2; 600]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Quota {
                party: 9999,
                used: 600,
                size: 600,
                quota: 1000
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("party 9999") && msg.contains("quota of 1000 bytes"),
        "{msg}"
    );
    // Another sender has its own quota.
    let mut other = key("b");
    other.src.party_id = 9998;
    assert!(mb.put(other, vec![3; 600]).unwrap());
    // A streamed message is refused as it passes the quota, and gives its bytes back.
    let mut w = mb.writer(key("c")).unwrap();
    w.write(&[4; 300]).unwrap();
    assert!(matches!(w.write(&[4; 300]), Err(Error::Quota { .. })));
    drop(w);
    assert_eq!(mb.party_usage(9999), 600);
    assert!(mb.check_quota(9999, 401).is_err());
    // Taking a message frees its share.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(mb.get(&key("a"), Duration::from_secs(1)))
        .unwrap();
    assert_eq!(mb.party_usage(9999), 0);
    assert!(mb.put(key("b"), vec![2; 600]).unwrap());
    // A duplicate key holds nothing more.
    assert!(!mb.put(key("b"), vec![2; 300]).unwrap());
    assert_eq!(mb.party_usage(9999), 600);
}

#[test]
fn spilled_and_expired_messages_give_their_quota_back() {
    let dir = tempfile::tempdir().unwrap();
    let mb = mailbox(10, Duration::from_millis(1), dir.path()).with_party_quota(1000);
    let mut w = mb.writer(key("s")).unwrap();
    w.write(&[1; 500]).unwrap();
    assert!(w.finish().unwrap());
    assert!(mb.put(key("t"), vec![2; 400]).unwrap());
    assert_eq!(mb.party_usage(9999), 900);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(mb.sweep(), 2);
    assert_eq!(mb.party_usage(9999), 0);
}
