//! Federation messages through RabbitMQ, for sites that cannot accept connections from
//! their partners (FATE's RabbitMQ federation, its "client" mode): the sender publishes
//! a message in chunks to the receiving party's queue on that party's broker; the
//! receiving site consumes its parties' queues and writes each message into its mailbox.
//! Commands and reports still go through the gateway.
//!
//! A chunk is `[u32 header length][header JSON][u32 signature length][signature][data]`.
//! The header holds the federation key, the message id, the chunk's position and the
//! sender's gateway certificate; the signature (ECDSA P-256 with the gateway key) covers
//! the header bytes and the data. The receiver accepts a chunk only when the
//! certificate has the fingerprint its routes file pins for the sending party, so the
//! broker is trusted with nothing but delivery. A chunk delivered twice, or a message
//! sent twice, is dropped: the receiver tracks message ids and the mailbox keeps the
//! first copy of a key.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fateflow_federation::{Key, Mailbox};
use futures_util::{Stream, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde::{Deserialize, Serialize};

use crate::proto::MessageHeader;
use crate::tls::{fingerprint, Identity, Routes, TlsError};

/// Bytes of data per chunk.
const CHUNK_BYTES: usize = 1 << 20;
/// Unacknowledged chunks a consumer holds at once.
const PREFETCH: u16 = 16;
/// Ids of finished messages remembered, to drop their redelivered chunks.
const REMEMBERED: usize = 65_536;

/// A broker and the queue names on it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConf {
    /// `amqp://user:password@host:port/vhost` or `amqps://…`.
    pub url: String,
    /// Queues are named `<prefix>.<party id>`.
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

fn default_prefix() -> String {
    "fateflow".into()
}

impl QueueConf {
    /// Checks the URL's scheme and the prefix.
    pub fn check(&self) -> Result<(), String> {
        if !(self.url.starts_with("amqp://") || self.url.starts_with("amqps://")) {
            return Err(format!(
                "url `{}`: expected amqp://… or amqps://…",
                self.describe()
            ));
        }
        if self.prefix.is_empty()
            || self.prefix.len() > 100
            || !self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(format!(
                "prefix `{}`: 1 to 100 letters, digits, `.`, `_` or `-`",
                self.prefix
            ));
        }
        Ok(())
    }

    /// The queue of a party.
    pub fn queue(&self, party: u64) -> String {
        format!("{}.{party}", self.prefix)
    }

    /// The URL without its password, for messages.
    pub fn describe(&self) -> String {
        match (self.url.find("://"), self.url.rfind('@')) {
            (Some(s), Some(at)) if at > s => {
                let user = &self.url[s + 3..at];
                let user = user.split(':').next().unwrap_or("");
                format!("{}{user}:***{}", &self.url[..s + 3], &self.url[at..])
            }
            _ => self.url.clone(),
        }
    }
}

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The broker refused or could not be reached.
    #[error("RabbitMQ {broker}: {detail}")]
    Broker {
        /// The broker, without password.
        broker: String,
        /// What happened.
        detail: String,
    },
    /// The message could not be read.
    #[error("reading the message: {0}")]
    Read(String),
}

/// The signed header of one chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChunkHeader {
    /// The message's id (random, 128 bits, hex).
    id: String,
    /// The chunk's position.
    seq: u64,
    /// Whether it is the message's last chunk.
    last: bool,
    /// The federation key and the message's size, as the gateway sends them.
    message: MessageHeader,
    /// The sender's gateway certificate (DER).
    cert: Vec<u8>,
}

/// Signs chunks with the site's gateway key.
pub struct Signer {
    key: ring::signature::EcdsaKeyPair,
    cert: Vec<u8>,
    rng: ring::rand::SystemRandom,
}

impl Signer {
    /// From the site's gateway identity (an ECDSA P-256 key, as `fateflow cert` makes).
    pub fn new(identity: &Identity) -> Result<Self, TlsError> {
        let rng = ring::rand::SystemRandom::new();
        let tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(der) = &identity.key else {
            return Err(TlsError::Invalid(
                "the gateway key is not PKCS#8; RabbitMQ federation signs with an ECDSA P-256 key as `fateflow cert` makes".into(),
            ));
        };
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            der.secret_pkcs8_der(),
            &rng,
        )
        .map_err(|e| {
            TlsError::Invalid(format!(
                "the gateway key is not an ECDSA P-256 key ({e}); RabbitMQ federation signs with it"
            ))
        })?;
        Ok(Self {
            key,
            cert: identity.cert.to_vec(),
            rng,
        })
    }

    fn chunk(&self, header: &ChunkHeader, data: &[u8]) -> Result<Vec<u8>, String> {
        let h = serde_json::to_vec(header).map_err(|e| e.to_string())?;
        let sig = self
            .key
            .sign(&self.rng, &signed_bytes(&h, data))
            .map_err(|e| format!("signing: {e}"))?;
        let sig = sig.as_ref();
        let mut out = Vec::with_capacity(8 + h.len() + sig.len() + data.len());
        out.extend((h.len() as u32).to_be_bytes());
        out.extend(&h);
        out.extend((sig.len() as u32).to_be_bytes());
        out.extend(sig);
        out.extend(data);
        Ok(out)
    }
}

/// What the signature covers: the header's length, the header, the data.
fn signed_bytes(header: &[u8], data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"fateflow-queue-v1");
    h.update((header.len() as u64).to_be_bytes());
    h.update(header);
    h.update(data);
    h.finalize().to_vec()
}

/// A chunk taken apart and checked against the routes.
#[derive(Debug)]
struct Checked {
    header: ChunkHeader,
    key: Key,
    data_at: usize,
}

/// Takes a chunk apart and checks its sender and signature; the error says why it
/// is refused.
fn check_chunk(body: &[u8], routes: &Routes) -> Result<Checked, String> {
    let take = |at: usize| -> Result<(usize, usize), String> {
        let n = body
            .get(at..at + 4)
            .ok_or("a chunk shorter than its framing")?;
        let n = u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize;
        if body.len() < at + 4 + n {
            return Err("a chunk shorter than its framing".into());
        }
        Ok((at + 4, at + 4 + n))
    };
    let (h0, h1) = take(0)?;
    let (s0, s1) = take(h1)?;
    let header: ChunkHeader =
        serde_json::from_slice(&body[h0..h1]).map_err(|e| format!("chunk header: {e}"))?;
    let key = header
        .message
        .key()
        .map_err(|e| format!("a chunk header with an invalid federation key: {e}"))?;
    let route = routes.parties.get(&key.src.party_id).ok_or_else(|| {
        format!(
            "a message from party {}, which the routes file does not know",
            key.src.party_id
        )
    })?;
    let fp = fingerprint(&header.cert);
    if fp != route.fingerprint {
        return Err(format!(
            "a message claiming party {} signed with certificate {fp}; the routes file pins {}",
            key.src.party_id, route.fingerprint
        ));
    }
    let cert_der = tokio_rustls::rustls::pki_types::CertificateDer::from(header.cert.as_slice());
    let cert = webpki::EndEntityCert::try_from(&cert_der)
        .map_err(|e| format!("the sender's certificate: {e}"))?;
    cert.verify_signature(
        webpki::ring::ECDSA_P256_SHA256,
        &signed_bytes(&body[h0..h1], &body[s1..]),
        &body[s0..s1],
    )
    .map_err(|e| format!("a chunk whose signature does not verify ({e})"))?;
    Ok(Checked {
        header,
        key,
        data_at: s1,
    })
}

/// Publishes this site's federation messages to partners' brokers.
pub struct QueueSender {
    signer: Signer,
    /// One channel per broker URL, opened on first use and again after a failure.
    channels: tokio::sync::Mutex<HashMap<String, Channel>>,
    /// Chunks published, for health and tests.
    pub published: AtomicU64,
}

impl QueueSender {
    /// A sender signing with `signer`.
    pub fn new(signer: Signer) -> Self {
        Self {
            signer,
            channels: tokio::sync::Mutex::new(HashMap::new()),
            published: AtomicU64::new(0),
        }
    }

    async fn channel(&self, conf: &QueueConf, queue: &str) -> Result<Channel, QueueError> {
        let broker = |detail: String| QueueError::Broker {
            broker: conf.describe(),
            detail,
        };
        let mut channels = self.channels.lock().await;
        if let Some(c) = channels.get(&conf.url) {
            if c.status().connected() {
                return Ok(c.clone());
            }
        }
        let conn = Connection::connect(&conf.url, ConnectionProperties::default())
            .await
            .map_err(|e| broker(format!("connecting: {e}")))?;
        let ch = conn
            .create_channel()
            .await
            .map_err(|e| broker(format!("opening a channel: {e}")))?;
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| broker(format!("publisher confirms: {e}")))?;
        declare(&ch, queue).await.map_err(broker)?;
        channels.insert(conf.url.clone(), ch.clone());
        Ok(ch)
    }

    /// Sends one message of `total_size` bytes to `key.dst` through `conf`'s broker:
    /// returns once the broker has confirmed every chunk.
    pub async fn push<S, B, E>(
        &self,
        conf: &QueueConf,
        key: &Key,
        total_size: u64,
        pieces: S,
    ) -> Result<(), QueueError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let queue = conf.queue(key.dst.party_id);
        let ch = self.channel(conf, &queue).await?;
        let id: String = {
            let bytes: [u8; 16] = rand_bytes();
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        };
        let mut header = ChunkHeader {
            id,
            seq: 0,
            last: false,
            message: MessageHeader::of(key, total_size),
            cert: self.signer.cert.clone(),
        };
        let mut confirms = Vec::new();
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES);
        let mut pieces = pieces;
        let mut sent = 0u64;
        loop {
            let piece = pieces.next().await;
            let done = piece.is_none();
            if let Some(p) = piece {
                let p = p.map_err(|e| QueueError::Read(e.to_string()))?;
                buf.extend_from_slice(p.as_ref());
            }
            while buf.len() >= CHUNK_BYTES || (done && (!buf.is_empty() || header.seq == 0)) {
                let take = buf.len().min(CHUNK_BYTES);
                let data: Vec<u8> = buf.drain(..take).collect();
                sent += data.len() as u64;
                header.last = done && buf.is_empty();
                let body = self
                    .signer
                    .chunk(&header, &data)
                    .map_err(QueueError::Read)?;
                let confirm = ch
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions::default(),
                        &body,
                        BasicProperties::default().with_delivery_mode(2),
                    )
                    .await
                    .map_err(|e| QueueError::Broker {
                        broker: conf.describe(),
                        detail: format!("publishing to {queue}: {e}"),
                    })?;
                confirms.push(confirm);
                self.published.fetch_add(1, Ordering::Relaxed);
                header.seq += 1;
                if header.last {
                    break;
                }
            }
            if done {
                break;
            }
        }
        if sent != total_size {
            return Err(QueueError::Read(format!(
                "the message has {sent} bytes, not the {total_size} announced"
            )));
        }
        for c in confirms {
            let c = c.await.map_err(|e| QueueError::Broker {
                broker: conf.describe(),
                detail: format!("waiting for the broker's confirmation: {e}"),
            })?;
            if !c.is_ack() {
                return Err(QueueError::Broker {
                    broker: conf.describe(),
                    detail: format!("the broker refused a chunk for {queue}"),
                });
            }
        }
        Ok(())
    }
}

fn rand_bytes<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut b = [0u8; N];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b
}

async fn declare(ch: &Channel, queue: &str) -> Result<(), String> {
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .map(|_| ())
    .map_err(|e| format!("declaring queue {queue}: {e}"))
}

/// What the consumer has counted, for health and tests.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    /// Messages written into the mailbox.
    pub messages: AtomicU64,
    /// Chunks dropped as copies of chunks or messages already received.
    pub duplicates: AtomicU64,
    /// Chunks refused (bad framing, unknown or wrongly signed sender).
    pub refused: AtomicU64,
}

/// One delivery handed to the writing thread.
struct Delivered {
    body: Vec<u8>,
    acker: lapin::Acker,
}

/// Consumes the queues of `parties` on `conf`'s broker until the runtime stops,
/// reconnecting after failures, and writes every accepted message into `mailbox`.
pub fn spawn_consumer(
    conf: QueueConf,
    parties: Vec<u64>,
    routes: Routes,
    mailbox: Arc<Mailbox>,
) -> Arc<ConsumerStats> {
    let stats = Arc::new(ConsumerStats::default());
    let (tx, rx) = tokio::sync::mpsc::channel::<Delivered>(PREFETCH as usize);
    let handle = tokio::runtime::Handle::current();
    let s = stats.clone();
    std::thread::Builder::new()
        .name("rabbitmq-writer".into())
        .spawn(move || write_loop(rx, routes, mailbox, s, handle))
        .ok();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            match consume(&conf, &parties, &tx).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(broker = %conf.describe(), error = %e, "RabbitMQ federation: consuming failed; reconnecting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    });
    stats
}

async fn consume(
    conf: &QueueConf,
    parties: &[u64],
    tx: &tokio::sync::mpsc::Sender<Delivered>,
) -> Result<(), String> {
    let conn = Connection::connect(&conf.url, ConnectionProperties::default())
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let ch = conn
        .create_channel()
        .await
        .map_err(|e| format!("opening a channel: {e}"))?;
    ch.basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .map_err(|e| format!("prefetch: {e}"))?;
    let mut streams = Vec::new();
    for &p in parties {
        let q = conf.queue(p);
        declare(&ch, &q).await?;
        let consumer = ch
            .basic_consume(
                q.as_str().into(),
                format!("fateflow-{p}").into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("consuming {q}: {e}"))?;
        streams.push(consumer);
    }
    tracing::info!(broker = %conf.describe(), queues = ?parties.iter().map(|p| conf.queue(*p)).collect::<Vec<_>>(), "RabbitMQ federation: consuming");
    let mut all = futures_util::stream::select_all(streams);
    while let Some(d) = all.next().await {
        let d = d.map_err(|e| format!("receiving: {e}"))?;
        let item = Delivered {
            body: d.data,
            acker: d.acker,
        };
        // The writer thread applies back-pressure.
        tx.send(item)
            .await
            .map_err(|_| "the writer thread stopped".to_string())?;
    }
    Err("the broker closed the consumer".into())
}

/// A message being received.
struct Partial<'a> {
    writer: fateflow_federation::MessageWriter<'a>,
    next: u64,
}

fn write_loop(
    mut rx: tokio::sync::mpsc::Receiver<Delivered>,
    routes: Routes,
    mailbox: Arc<Mailbox>,
    stats: Arc<ConsumerStats>,
    rt: tokio::runtime::Handle,
) {
    let mut partial: HashMap<String, Partial<'_>> = HashMap::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut order: VecDeque<String> = VecDeque::new();
    while let Some(d) = rx.blocking_recv() {
        let outcome = receive(
            &d.body,
            &routes,
            &mailbox,
            &mut partial,
            (&mut finished, &mut order),
        );
        match outcome {
            Received::Kept(Some(key)) => {
                stats.messages.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(name = %key.name, tag = %key.tag, src = %key.src, dst = %key.dst, "RabbitMQ federation: message received");
            }
            Received::Kept(None) => {}
            Received::Duplicate => {
                stats.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            Received::Refused(why) => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(reason = %why, "RabbitMQ federation: chunk refused");
            }
        }
        // Acknowledged once handled either way: a refused chunk would only come back.
        let _ = rt.block_on(d.acker.ack(BasicAckOptions::default()));
    }
}

enum Received {
    /// Written; the key when it finished a message.
    Kept(Option<Key>),
    Duplicate,
    Refused(String),
}

fn receive<'a>(
    body: &[u8],
    routes: &Routes,
    mailbox: &'a Mailbox,
    partial: &mut HashMap<String, Partial<'a>>,
    (finished, order): (&mut HashSet<String>, &mut VecDeque<String>),
) -> Received {
    let c = match check_chunk(body, routes) {
        Ok(c) => c,
        Err(e) => return Received::Refused(e),
    };
    let h = &c.header;
    if finished.contains(&h.id) {
        return Received::Duplicate;
    }
    let data = &body[c.data_at..];
    if !partial.contains_key(&h.id) {
        if h.seq != 0 {
            return Received::Refused(format!(
                "chunk {} of message `{}` from {} without its beginning (lost in a restart?)",
                h.seq, c.key.name, c.key.src
            ));
        }
        match mailbox.writer(c.key.clone()) {
            Ok(w) => {
                partial.insert(h.id.clone(), Partial { writer: w, next: 0 });
            }
            Err(e) => return Received::Refused(e.to_string()),
        }
    }
    let Some(p) = partial.get_mut(&h.id) else {
        return Received::Refused("no message".into());
    };
    if h.seq < p.next {
        return Received::Duplicate;
    }
    if h.seq > p.next {
        let why = format!(
            "message `{}` from {}: chunk {} came before chunk {}; the message is dropped",
            c.key.name, c.key.src, h.seq, p.next
        );
        partial.remove(&h.id);
        return Received::Refused(why);
    }
    if let Err(e) = p.writer.write(data) {
        let why = e.to_string();
        partial.remove(&h.id);
        return Received::Refused(why);
    }
    p.next += 1;
    if !h.last {
        return Received::Kept(None);
    }
    let Some(p) = partial.remove(&h.id) else {
        return Received::Refused("no message".into());
    };
    finished.insert(h.id.clone());
    order.push_back(h.id.clone());
    if order.len() > REMEMBERED {
        if let Some(old) = order.pop_front() {
            finished.remove(&old);
        }
    }
    match p.writer.finish() {
        Ok(true) => Received::Kept(Some(c.key)),
        Ok(false) => Received::Duplicate,
        Err(e) => Received::Refused(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::Route;
    use fateflow_domain::{Party, Role};

    fn identity(dir: &std::path::Path, name: &str) -> Identity {
        let (cert, key, _) = crate::tls::generate_identity(&dir.join(name), name).unwrap();
        Identity::load(&cert, &key).unwrap()
    }

    fn routes_pinning(id: &Identity, party: u64) -> Routes {
        let mut r = Routes::default();
        r.parties.insert(
            party,
            Route {
                address: "127.0.0.1:1".into(),
                fingerprint: id.fingerprint(),
                rabbitmq: None,
            },
        );
        r
    }

    fn key(tag: &str) -> Key {
        Key {
            session: "job_1_sess".into(),
            name: "host_forward".into(),
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

    fn header(signer: &Signer, k: &Key, seq: u64, last: bool) -> ChunkHeader {
        ChunkHeader {
            id: "00ff".into(),
            seq,
            last,
            message: MessageHeader::of(k, 3),
            cert: signer.cert.clone(),
        }
    }

    #[test]
    fn chunks_verify_only_from_the_pinned_sender_and_untampered() {
        let dir = tempfile::tempdir().unwrap();
        let guest = identity(dir.path(), "guest");
        let other = identity(dir.path(), "other");
        let routes = routes_pinning(&guest, 9999);
        let signer = Signer::new(&guest).unwrap();
        let k = key("t");
        let body = signer.chunk(&header(&signer, &k, 0, true), b"abc").unwrap();
        let c = check_chunk(&body, &routes).unwrap();
        assert_eq!(c.key, k);
        assert_eq!(&body[c.data_at..], b"abc");
        // One byte of data changed.
        let mut bad = body.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(check_chunk(&bad, &routes)
            .unwrap_err()
            .contains("does not verify"));
        // Another site's key claiming party 9999.
        let forger = Signer::new(&other).unwrap();
        let forged = forger.chunk(&header(&forger, &k, 0, true), b"abc").unwrap();
        assert!(check_chunk(&forged, &routes)
            .unwrap_err()
            .contains("the routes file pins"));
        // The pinned certificate with another key's signature.
        let mut h = header(&forger, &k, 0, true);
        h.cert = signer.cert.clone();
        let forged = forger.chunk(&h, b"abc").unwrap();
        assert!(check_chunk(&forged, &routes)
            .unwrap_err()
            .contains("does not verify"));
        assert!(check_chunk(&body[..10], &routes)
            .unwrap_err()
            .contains("framing"));
    }

    #[test]
    fn copies_and_gaps_are_dropped_and_a_message_is_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let guest = identity(dir.path(), "guest");
        let routes = routes_pinning(&guest, 9999);
        let signer = Signer::new(&guest).unwrap();
        let mailbox = Mailbox::new(fateflow_federation::MailboxConfig {
            memory_limit: 1 << 20,
            spill_dir: dir.path().join("spill"),
            ttl: Duration::from_secs(60),
            max_message: 1 << 20,
        });
        let k = key("t");
        let c0 = signer.chunk(&header(&signer, &k, 0, false), b"ab").unwrap();
        let c1 = signer.chunk(&header(&signer, &k, 1, true), b"c").unwrap();
        let mut partial = HashMap::new();
        let (mut finished, mut order) = (HashSet::new(), VecDeque::new());
        let mut recv = |b: &[u8]| {
            receive(
                b,
                &routes,
                &mailbox,
                &mut partial,
                (&mut finished, &mut order),
            )
        };
        assert!(matches!(recv(&c0), Received::Kept(None)));
        assert!(matches!(recv(&c0), Received::Duplicate));
        assert!(matches!(recv(&c1), Received::Kept(Some(_))));
        assert!(matches!(recv(&c1), Received::Duplicate));
        assert!(matches!(recv(&c0), Received::Duplicate));
        // A later chunk of a message never begun.
        let mut h = header(&signer, &k, 1, true);
        h.id = "0100".into();
        let orphan = signer.chunk(&h, b"c").unwrap();
        assert!(
            matches!(recv(&orphan), Received::Refused(w) if w.contains("without its beginning"))
        );
        let got = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(mailbox.get(&k, Duration::from_secs(1)))
            .unwrap();
        assert_eq!(got, b"abc");
    }

    #[test]
    fn passwords_stay_out_of_messages_and_confs_are_checked() {
        let c = QueueConf {
            url: "amqp://fate:s3cret@mq:5672/%2f".into(),
            prefix: "fateflow".into(),
        };
        assert_eq!(c.describe(), "amqp://fate:***@mq:5672/%2f");
        assert!(c.check().is_ok());
        assert_eq!(c.queue(10000), "fateflow.10000");
        let bad = QueueConf {
            url: "http://mq".into(),
            prefix: "a b".into(),
        };
        assert!(bad.check().unwrap_err().contains("expected amqp://"));
        let bad = QueueConf {
            url: "amqp://mq".into(),
            prefix: "a b".into(),
        };
        assert!(bad.check().unwrap_err().contains("prefix `a b`"));
    }

    /// Through a real RabbitMQ (`FATEFLOW_TEST_AMQP`): a 2.5 MiB message in three
    /// chunks arrives whole; a forged message is refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_message_crosses_a_real_broker_in_chunks() {
        let Ok(url) = std::env::var("FATEFLOW_TEST_AMQP") else {
            eprintln!("skipped: set FATEFLOW_TEST_AMQP (amqp://guest:guest@127.0.0.1:5672/%2f) to run against RabbitMQ");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let guest = identity(dir.path(), "guest");
        let other = identity(dir.path(), "other");
        let prefix = format!("fateflow-test-{}", std::process::id());
        let conf = QueueConf { url, prefix };
        let mailbox = Arc::new(Mailbox::new(fateflow_federation::MailboxConfig {
            memory_limit: 1 << 20,
            spill_dir: dir.path().join("spill"),
            ttl: Duration::from_secs(60),
            max_message: 8 << 20,
        }));
        let stats = spawn_consumer(
            conf.clone(),
            vec![10000],
            routes_pinning(&guest, 9999),
            mailbox.clone(),
        );
        let message: Vec<u8> = (0..(5u32 << 19)).map(|i| (i % 251) as u8).collect();
        let pieces: Vec<Result<Vec<u8>, String>> =
            message.chunks(100_000).map(|c| Ok(c.to_vec())).collect();
        let sender = QueueSender::new(Signer::new(&guest).unwrap());
        let k = key("big");
        sender
            .push(
                &conf,
                &k,
                message.len() as u64,
                futures_util::stream::iter(pieces),
            )
            .await
            .unwrap();
        assert_eq!(sender.published.load(Ordering::Relaxed), 3);
        let got = mailbox.get(&k, Duration::from_secs(20)).await.unwrap();
        assert!(got == message, "the message arrived changed");
        let forger = QueueSender::new(Signer::new(&other).unwrap());
        let forged = key("forged");
        forger
            .push(
                &conf,
                &forged,
                3,
                futures_util::stream::iter([Ok::<_, String>(b"abc".to_vec())]),
            )
            .await
            .unwrap();
        for _ in 0..100 {
            if stats.refused.load(Ordering::Relaxed) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(stats.refused.load(Ordering::Relaxed), 1);
        assert!(!mailbox.has_seen(&forged));
        assert_eq!(stats.messages.load(Ordering::Relaxed), 1);
        // Leave nothing on the broker.
        let conn = Connection::connect(&conf.url, ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.queue_delete(
            conf.queue(10000).as_str().into(),
            lapin::options::QueueDeleteOptions::default(),
        )
        .await
        .unwrap();
    }
}
