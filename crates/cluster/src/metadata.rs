//! The GCE metadata server, where a TPU VM learns its worker number and its peers. Plain
//! HTTP/1.0 on the link-local network, so a few lines of `std` rather than an HTTP client.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::{Error, Result};

/// The metadata server's name inside Google Cloud (`GCE_METADATA_IP` overrides it).
pub const DEFAULT_HOST: &str = "metadata.google.internal";

const TIMEOUT: Duration = Duration::from_secs(5);

/// The instance attribute `key`; `None` when the server is unreachable (not a GCE VM) or the
/// attribute is not set.
pub fn attribute(base: &str, key: &str) -> Result<Option<String>> {
    let address = if base.contains(':') { base.to_string() } else { format!("{base}:80") };
    let Some(socket) = address.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        tracing::debug!(%address, "no metadata server name resolution: not a GCE VM");
        return Ok(None);
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&socket, TIMEOUT) else {
        tracing::debug!(%address, "no metadata server: not a GCE VM");
        return Ok(None);
    };
    let io =
        |e: std::io::Error| Error::Io { what: format!("reading {key} from the metadata server {address}"), source: e };
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    let host = base.split(':').next().unwrap_or(base);
    let request = format!(
        "GET /computeMetadata/v1/instance/attributes/{key} HTTP/1.0\r\nHost: {host}\r\nMetadata-Flavor: Google\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(io)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    match status {
        "200" => Ok(Some(body.to_string())),
        "404" => Ok(None),
        _ => Err(Error::Protocol(format!(
            "the metadata server {address} answered {:?} for {key}",
            head.lines().next().unwrap_or("")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;
    use crate::discover::{Flags, discover};

    /// A metadata server on loopback answering each attribute from `answers` (404 otherwise).
    fn serve(answers: &'static [(&'static str, &'static str)], requests: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let mut stream = stream.unwrap();
                let mut request = String::new();
                let mut buf = [0u8; 1024];
                while !request.ends_with("\r\n\r\n") {
                    let n = stream.read(&mut buf).unwrap();
                    request.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
                assert!(request.contains("Metadata-Flavor: Google"), "{request}");
                let reply = match answers.iter().find(|(k, _)| request.contains(&format!("attributes/{k} "))) {
                    Some((_, v)) => format!("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n{v}"),
                    None => "HTTP/1.0 404 Not Found\r\n\r\n".to_string(),
                };
                stream.write_all(reply.as_bytes()).unwrap();
            }
        });
        address
    }

    #[test]
    fn a_tpu_vm_learns_its_place_from_the_metadata_server() {
        let address = serve(
            &[
                ("agent-worker-number", "2"),
                ("worker-network-endpoints", "w0:0:10.0.0.2,w1:1:10.0.0.3,w2:2:10.0.0.4,w3:3:10.0.0.5"),
            ],
            2,
        );
        let env = move |k: &str| (k == "GCE_METADATA_IP").then(|| address.clone());
        let spec = discover(&Flags::default(), &env, true).unwrap().unwrap();
        assert_eq!((spec.process_id, spec.num_processes, spec.coordinator.as_str()), (2, 4, "10.0.0.2:8476"));
    }

    #[test]
    fn unset_attributes_and_absent_servers_mean_a_single_process() {
        let address = serve(&[], 1);
        assert_eq!(attribute(&address, "agent-worker-number").unwrap(), None);
        // A closed port: nothing listens, so this is not a GCE VM.
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
        assert_eq!(attribute(&closed, "agent-worker-number").unwrap(), None);
    }
}
