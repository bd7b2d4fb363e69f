//! The key-value service: a map on the coordinator, reached over TCP.
//!
//! A request is one byte of operation, the key (`u32` length, bytes) and the operation's
//! argument; the reply is one status byte and, where there is one, a value (`u64` length,
//! bytes). Integers are little-endian. Each request opens its own connection: a `get` may block
//! for minutes while another thread of the same process puts the key it waits for, and the
//! exchange is a few dozen requests per job, so pooling buys nothing.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ouro_pjrt::{KeyValueStore, KvError, KvErrorKind};

use crate::error::{Error, Result};

const PUT: u8 = 1;
const GET: u8 = 2;
const TRY_GET: u8 = 3;
const CREATE: u8 = 4;
const DELETE: u8 = 5;
const LEAVE: u8 = 6;

const OK: u8 = 0;
const NOT_FOUND: u8 = 1;
const DEADLINE: u8 = 2;
const EXISTS: u8 = 3;

/// Keys longer than this are refused (they are names, not data).
const MAX_KEY: usize = 64 << 10;
/// Values longer than this are refused (topologies are kilobytes).
const MAX_VALUE: u64 = 256 << 20;

#[derive(Default)]
struct Table {
    map: Mutex<HashMap<String, Vec<u8>>>,
    changed: Condvar,
    /// Processes whose last request (`leave`) has been answered.
    left: Mutex<std::collections::HashSet<String>>,
    gone: Condvar,
}

/// The service. It listens until the process ends (its threads are detached): the store must
/// outlive every client of the job, the plugin's included.
pub struct KvServer {
    address: SocketAddr,
    table: Arc<Table>,
}

impl KvServer {
    /// Listens on `address` (`0.0.0.0:port` on the coordinator; port 0 picks a free one).
    pub fn bind(address: &str) -> Result<KvServer> {
        let listener = TcpListener::bind(address)
            .map_err(|e| Error::Io { what: format!("listening for the other processes on {address}"), source: e })?;
        let local =
            listener.local_addr().map_err(|e| Error::Io { what: format!("the address of {address}"), source: e })?;
        let table = Arc::new(Table::default());
        let served = table.clone();
        std::thread::Builder::new()
            .name("ouro-kv-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let table = served.clone();
                    let _ = std::thread::Builder::new().name("ouro-kv".into()).spawn(move || {
                        let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                        if let Err(e) = serve(&table, stream) {
                            tracing::warn!(%peer, "key-value request failed: {e}");
                        }
                    });
                }
            })
            .map_err(|e| Error::Io { what: "starting the key-value service".into(), source: e })?;
        Ok(KvServer { address: local, table })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Waits until each of `ids` has left (its `leave` answered, so it will not call again), or
    /// `timeout` passes; the ids that did not.
    pub fn wait_until_left(&self, ids: &[String], timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut left = self.table.left.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let missing: Vec<String> = ids.iter().filter(|id| !left.contains(*id)).cloned().collect();
            let rest = deadline.saturating_duration_since(Instant::now());
            if missing.is_empty() || rest.is_zero() {
                return missing;
            }
            left = self.table.gone.wait_timeout(left, rest).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

fn read_key(r: &mut impl Read) -> std::io::Result<String> {
    let len = read_u32(r)? as usize;
    if len > MAX_KEY {
        return Err(invalid(format!("a key of {len} bytes (at most {MAX_KEY})")));
    }
    let mut key = vec![0u8; len];
    r.read_exact(&mut key)?;
    String::from_utf8(key).map_err(|_| invalid("a key that is not UTF-8".into()))
}

fn read_value(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let len = read_u64(r)?;
    if len > MAX_VALUE {
        return Err(invalid(format!("a value of {len} bytes (at most {MAX_VALUE})")));
    }
    let mut value = vec![0u8; len as usize];
    r.read_exact(&mut value)?;
    Ok(value)
}

fn write_value(w: &mut impl Write, status: u8, value: &[u8]) -> std::io::Result<()> {
    w.write_all(&[status])?;
    w.write_all(&(value.len() as u64).to_le_bytes())?;
    w.write_all(value)
}

/// Answers the requests of one connection until it closes.
fn serve(table: &Table, stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = BufWriter::new(stream);
    loop {
        let mut op = [0u8; 1];
        if reader.read(&mut op)? == 0 {
            return Ok(());
        }
        let key = read_key(&mut reader)?;
        let lock = || table.map.lock().unwrap_or_else(|p| p.into_inner());
        match op[0] {
            PUT => {
                let value = read_value(&mut reader)?;
                lock().insert(key, value);
                table.changed.notify_all();
                write_value(&mut writer, OK, &[])?;
            }
            CREATE => {
                let value = read_value(&mut reader)?;
                let mut map = lock();
                match map.get(&key) {
                    Some(existing) => write_value(&mut writer, EXISTS, existing)?,
                    None => {
                        map.insert(key, value);
                        table.changed.notify_all();
                        write_value(&mut writer, OK, &[])?;
                    }
                }
            }
            DELETE => {
                lock().remove(&key);
                write_value(&mut writer, OK, &[])?;
            }
            LEAVE => {
                // Answered first: the process is done with the service once it has its reply.
                write_value(&mut writer, OK, &[])?;
                writer.flush()?;
                table.left.lock().unwrap_or_else(|p| p.into_inner()).insert(key);
                table.gone.notify_all();
            }
            TRY_GET => match lock().get(&key) {
                Some(v) => write_value(&mut writer, OK, v)?,
                None => write_value(&mut writer, NOT_FOUND, &[])?,
            },
            GET => {
                let deadline = Instant::now() + Duration::from_millis(read_u64(&mut reader)?);
                let mut map = lock();
                loop {
                    if let Some(v) = map.get(&key) {
                        write_value(&mut writer, OK, v)?;
                        break;
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        write_value(&mut writer, DEADLINE, &[])?;
                        break;
                    }
                    map = table.changed.wait_timeout(map, left).unwrap_or_else(|p| p.into_inner()).0;
                }
            }
            other => return Err(invalid(format!("unknown operation {other}"))),
        }
        writer.flush()?;
    }
}

/// A process's handle on the service.
pub struct KvClient {
    address: String,
    /// How long to keep trying to reach a coordinator that is not up yet.
    connect_patience: Duration,
}

/// What a request got back.
enum Reply {
    Value(Vec<u8>),
    NotFound,
    Deadline,
    Exists(Vec<u8>),
}

impl KvClient {
    /// A client of the service at `address` (`host:port`), retrying connections for up to
    /// `connect_patience` (processes start in any order).
    pub fn new(address: &str, connect_patience: Duration) -> KvClient {
        KvClient { address: address.to_string(), connect_patience }
    }

    fn connect(&self) -> std::result::Result<TcpStream, KvError> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(50);
        loop {
            let attempt = self
                .address
                .to_socket_addrs()
                .and_then(|mut a| a.next().ok_or_else(|| std::io::Error::other("no address")))
                .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(5)));
            match attempt {
                Ok(s) => return Ok(s),
                Err(e) if started.elapsed() >= self.connect_patience => {
                    return Err(KvError {
                        kind: KvErrorKind::Unavailable,
                        message: format!(
                            "cannot reach the coordinator's key-value service at {} after {:.0} s: {e}",
                            self.address,
                            started.elapsed().as_secs_f64()
                        ),
                    });
                }
                Err(_) => {
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    fn request(
        &self,
        op: u8,
        key: &str,
        argument: Option<&[u8]>,
        timeout: Option<Duration>,
    ) -> std::result::Result<Reply, KvError> {
        let broken = |e: std::io::Error| KvError {
            kind: KvErrorKind::Unavailable,
            message: format!("key-value request for {key} to {} failed: {e}", self.address),
        };
        let stream = self.connect()?;
        if let Some(t) = timeout {
            // The server answers a get by its deadline; allow for the network beyond it.
            stream.set_read_timeout(Some(t + Duration::from_secs(30))).map_err(broken)?;
        }
        let mut writer = BufWriter::new(stream.try_clone().map_err(broken)?);
        let mut message = vec![op];
        message.extend_from_slice(&(key.len() as u32).to_le_bytes());
        message.extend_from_slice(key.as_bytes());
        if let Some(v) = argument {
            message.extend_from_slice(&(v.len() as u64).to_le_bytes());
            message.extend_from_slice(v);
        }
        if let Some(t) = timeout {
            message.extend_from_slice(&(t.as_millis() as u64).to_le_bytes());
        }
        writer.write_all(&message).and_then(|()| writer.flush()).map_err(broken)?;
        let mut reader = BufReader::new(stream);
        let mut status = [0u8; 1];
        reader.read_exact(&mut status).map_err(broken)?;
        let value = read_value(&mut reader).map_err(broken)?;
        match status[0] {
            OK => Ok(Reply::Value(value)),
            NOT_FOUND => Ok(Reply::NotFound),
            DEADLINE => Ok(Reply::Deadline),
            EXISTS => Ok(Reply::Exists(value)),
            s => Err(broken(invalid(format!("unknown status {s}")))),
        }
    }

    /// Removes `key` (nothing if it is not set): a value every process has read need not stay
    /// in the coordinator's memory.
    pub fn delete(&self, key: &str) -> std::result::Result<(), KvError> {
        self.request(DELETE, key, None, None).map(|_| ())
    }

    /// Says that process `id` is done with the service: its last request, which the
    /// coordinator's process waits for before it ends.
    pub fn leave(&self, id: &str) -> std::result::Result<(), KvError> {
        self.request(LEAVE, id, None, None).map(|_| ())
    }

    /// Sets `key` unless it exists; `Err(existing value)` if it does.
    pub fn create(&self, key: &str, value: &[u8]) -> std::result::Result<std::result::Result<(), Vec<u8>>, KvError> {
        match self.request(CREATE, key, Some(value), None)? {
            Reply::Value(_) => Ok(Ok(())),
            Reply::Exists(v) => Ok(Err(v)),
            _ => {
                Err(KvError { kind: KvErrorKind::Unavailable, message: format!("unexpected reply to creating {key}") })
            }
        }
    }
}

impl KeyValueStore for KvClient {
    fn get(&self, key: &str, timeout: Duration) -> std::result::Result<Vec<u8>, KvError> {
        match self.request(GET, key, None, Some(timeout))? {
            Reply::Value(v) => Ok(v),
            _ => Err(KvError {
                kind: KvErrorKind::DeadlineExceeded,
                message: format!("{key} was not set within {:.1} s", timeout.as_secs_f64()),
            }),
        }
    }

    fn try_get(&self, key: &str) -> std::result::Result<Option<Vec<u8>>, KvError> {
        match self.request(TRY_GET, key, None, None)? {
            Reply::Value(v) => Ok(Some(v)),
            _ => Ok(None),
        }
    }

    fn put(&self, key: &str, value: &[u8]) -> std::result::Result<(), KvError> {
        self.request(PUT, key, Some(value), None).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (KvServer, KvClient) {
        let server = KvServer::bind("127.0.0.1:0").unwrap();
        let client = KvClient::new(&server.address().to_string(), Duration::from_secs(5));
        (server, client)
    }

    #[test]
    fn the_server_knows_who_has_left() {
        let (server, client) = pair();
        let ids = ["1".to_string(), "2".to_string()];
        client.leave("1").unwrap();
        assert_eq!(server.wait_until_left(&ids, Duration::from_millis(50)), ["2"]);
        client.leave("2").unwrap();
        assert!(server.wait_until_left(&ids, Duration::from_secs(5)).is_empty());
    }

    #[test]
    fn a_deleted_key_is_gone() {
        let (_server, client) = pair();
        client.put("k", b"v").unwrap();
        client.delete("k").unwrap();
        assert_eq!(client.try_get("k").unwrap(), None);
        client.delete("never set").unwrap();
    }

    #[test]
    fn put_get_try_get_and_create() {
        let (_server, kv) = pair();
        assert_eq!(kv.try_get("a").unwrap(), None);
        kv.put("a", b"\x00\x01 binary").unwrap();
        assert_eq!(kv.get("a", Duration::from_millis(10)).unwrap(), b"\x00\x01 binary");
        assert_eq!(kv.try_get("a").unwrap().unwrap(), b"\x00\x01 binary");
        assert_eq!(kv.create("b", b"first").unwrap(), Ok(()));
        assert_eq!(kv.create("b", b"second").unwrap(), Err(b"first".to_vec()));
        kv.put("a", b"").unwrap();
        assert_eq!(kv.try_get("a").unwrap().unwrap(), b"");
    }

    #[test]
    fn a_get_waits_for_a_later_put_and_times_out_without_one() {
        let (server, kv) = pair();
        let address = server.address().to_string();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            KvClient::new(&address, Duration::from_secs(5)).put("late", b"here").unwrap();
        });
        assert_eq!(kv.get("late", Duration::from_secs(10)).unwrap(), b"here");
        writer.join().unwrap();
        let started = Instant::now();
        let e = kv.get("never", Duration::from_millis(200)).unwrap_err();
        assert_eq!(e.kind, KvErrorKind::DeadlineExceeded);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn an_unreachable_coordinator_is_reported_with_its_address() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
        let kv = KvClient::new(&closed, Duration::from_millis(300));
        let e = kv.try_get("x").unwrap_err();
        assert_eq!(e.kind, KvErrorKind::Unavailable);
        assert!(e.message.contains(&closed), "{}", e.message);
    }

    #[test]
    fn malformed_requests_are_refused_without_harming_the_service() {
        let (server, kv) = pair();
        let mut raw = TcpStream::connect(server.address()).unwrap();
        // A key "longer" than the limit: the server drops the connection.
        raw.write_all(&[GET]).unwrap();
        raw.write_all(&u32::MAX.to_le_bytes()).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(raw.read(&mut buf).unwrap_or(0), 0);
        kv.put("still", b"works").unwrap();
        assert_eq!(kv.try_get("still").unwrap().unwrap(), b"works");
    }
}
