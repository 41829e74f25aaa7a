//! A real DNS server on loopback (`hickory-server`, UDP and TCP on one free port) answering TXT
//! queries from records the test sets: what domain verification looks up in the HTTP tests.

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::TXT;
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Zone {
    /// Lowercased name without the final dot → TXT values.
    txt: HashMap<String, Vec<String>>,
    /// Names answered with SERVFAIL.
    failing: HashSet<String>,
}

/// The request handler: TXT answers from the zone, NXDOMAIN for unknown names, NOERROR with no
/// answer for other record types of known names, SERVFAIL for failing names.
#[derive(Clone, Default)]
struct Handler(Arc<Mutex<Zone>>);

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::new(&request.queries, None);
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let Ok(info) = request.request_info() else {
            let msg = builder.error_msg(&request.metadata, ResponseCode::FormErr);
            return match response_handle.send_response(msg).await {
                Ok(r) => r,
                Err(e) => panic!("test DNS server could not answer: {e}"),
            };
        };
        let qname = info.query.name().to_string();
        let name = key(&qname);
        let (code, values) = {
            let zone = self.0.lock().unwrap();
            if zone.failing.contains(&name) {
                (ResponseCode::ServFail, Vec::new())
            } else {
                match zone.txt.get(&name) {
                    None => (ResponseCode::NXDomain, Vec::new()),
                    Some(_) if info.query.query_type() != RecordType::TXT => {
                        (ResponseCode::NoError, Vec::new())
                    }
                    Some(v) => (ResponseCode::NoError, v.clone()),
                }
            }
        };
        metadata.response_code = code;
        let owner = Name::from_ascii(&qname).unwrap();
        let answers: Vec<Record> = values
            .into_iter()
            .map(|v| Record::from_rdata(owner.clone(), 0, RData::TXT(TXT::new(vec![v]))))
            .collect();
        let msg = builder.build(metadata, answers.iter(), [], [], []);
        match response_handle.send_response(msg).await {
            Ok(r) => r,
            Err(e) => panic!("test DNS server could not answer: {e}"),
        }
    }
}

/// A DNS server on `127.0.0.1:<port>` (UDP and TCP), stopped on drop.
pub struct TestDns {
    /// Where it listens (UDP and TCP).
    pub addr: SocketAddr,
    zone: Handler,
    /// Dropping it stops the server's tasks.
    _server: Server<Handler>,
}

impl TestDns {
    /// Starts it on a free port.
    pub async fn start() -> TestDns {
        // One port for both protocols: take a free TCP port and bind UDP to it too.
        let (tcp, udp) = loop {
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = tcp.local_addr().unwrap();
            if let Ok(udp) = tokio::net::UdpSocket::bind(addr).await {
                break (tcp, udp);
            }
        };
        let addr = tcp.local_addr().unwrap();
        let zone = Handler::default();
        let mut server = Server::new(zone.clone());
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 65_535);
        TestDns {
            addr,
            zone,
            _server: server,
        }
    }

    /// Publishes a TXT record (adds `value` to the values at `name`).
    pub fn publish_txt(&self, name: &str, value: &str) {
        let mut zone = self.zone.0.lock().unwrap();
        zone.txt
            .entry(key(name))
            .or_default()
            .push(value.to_owned());
    }

    /// Removes every record at `name`.
    pub fn remove(&self, name: &str) {
        self.zone.0.lock().unwrap().txt.remove(&key(name));
    }

    /// Answers SERVFAIL for `name` from now on (or stops doing so).
    pub fn set_failing(&self, name: &str, failing: bool) {
        let mut zone = self.zone.0.lock().unwrap();
        if failing {
            zone.failing.insert(key(name));
        } else {
            zone.failing.remove(&key(name));
        }
    }
}
