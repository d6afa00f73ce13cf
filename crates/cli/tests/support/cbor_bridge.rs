//! A CloudWatch protocol bridge in front of moto. aws-sdk-cloudwatch sends
//! Smithy RPC v2 CBOR (`POST /service/GraniteServiceVersion20100801/
//! operation/<Op>`, CBOR bodies), which real CloudWatch prefers, while moto
//! (5.2.5, the newest) speaks only CloudWatch's JSON 1.0 and query
//! protocols. The bridge changes the encoding and nothing else: each CBOR
//! request body is re-encoded as JSON and sent to moto as the JSON 1.0
//! operation (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`) with the
//! SDK's own headers (its Authorization names the account and region moto
//! files the call under); moto's JSON answer, success or error, goes back
//! as CBOR with its status, and its `x-amzn-query-error` header (the error
//! code of a query-compatible service). Numbers keep JSON's integer/float
//! distinction; numbers under keys ending in `Timestamp` become CBOR
//! timestamps (tag 1), as the CBOR protocol writes them. Alarms, their
//! state and every error are moto's.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use minicbor::data::{IanaTag, Tag, Type};
use minicbor::{Decoder, Encoder};
use serde_json::{Map, Number, Value};

const SERVICE: &str = "GraniteServiceVersion20100801";

/// The bridge, listening on 127.0.0.1 until dropped.
pub struct CborBridge {
    pub url: String,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl CborBridge {
    /// Bridges CloudWatch CBOR calls to `moto_url` (`http://127.0.0.1:PORT`).
    pub fn start(moto_url: &str) -> CborBridge {
        let moto = moto_url
            .strip_prefix("http://")
            .expect("moto listens on http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let moto = moto.clone();
                std::thread::spawn(move || serve(conn, &moto));
            }
        });
        CborBridge {
            url: format!("http://127.0.0.1:{port}"),
            stop,
            port,
        }
    }
}

impl Drop for CborBridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

struct Request {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// One kept-alive connection from the SDK: request after request.
fn serve(conn: TcpStream, moto: &str) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    while let Some(req) = read_request(&mut reader) {
        let resp = bridge(&req, moto).unwrap_or_else(|why| Response {
            status: 502,
            headers: Vec::new(),
            body: cbor_of(
                &serde_json::json!({"__type": "BridgeError", "message": why}),
                "",
            ),
        });
        let mut head = format!("HTTP/1.1 {} Bridged\r\n", resp.status);
        head.push_str("content-type: application/cbor\r\nsmithy-protocol: rpc-v2-cbor\r\n");
        for (k, v) in &resp.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", resp.body.len()));
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&resp.body).is_err() {
            return;
        }
    }
}

fn read_head(reader: &mut impl BufRead) -> Option<(String, Vec<(String, String)>)> {
    let mut first = String::new();
    if reader.read_line(&mut first).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    Some((first.trim_end().to_string(), headers))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let (first, headers) = read_head(reader)?;
    let path = first.split_whitespace().nth(1)?.to_string();
    assert!(
        header(&headers, "transfer-encoding").is_none(),
        "the SDK sends CloudWatch bodies with a length"
    );
    let length: usize = header(&headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        path,
        headers,
        body,
    })
}

/// Sends `req` to moto as its JSON 1.0 operation; answers in CBOR.
fn bridge(req: &Request, moto: &str) -> Result<Response, String> {
    let operation = req
        .path
        .strip_prefix(&format!("/service/{SERVICE}/operation/"))
        .ok_or_else(|| format!("not a CloudWatch CBOR call: {}", req.path))?;
    let input = if req.body.is_empty() {
        Value::Object(Map::new())
    } else {
        json_of(&mut Decoder::new(&req.body))?
    };
    let json = serde_json::to_vec(&input).unwrap();
    let mut out = TcpStream::connect(moto).map_err(|e| format!("moto: {e}"))?;
    let mut head = format!("POST / HTTP/1.1\r\nhost: {moto}\r\n");
    for (k, v) in &req.headers {
        let replaced = [
            "host",
            "content-type",
            "content-length",
            "accept",
            "smithy-protocol",
            "connection",
        ];
        if !replaced.contains(&k.as_str()) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!(
        "content-type: application/x-amz-json-1.0\r\nx-amz-target: {SERVICE}.{operation}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        json.len()
    ));
    out.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    out.write_all(&json).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(out);
    let (status_line, headers) = read_head(&mut reader).ok_or("moto sent no answer")?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("moto's status line: {status_line}"))?;
    let mut body = Vec::new();
    match header(&headers, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        }
        None => {
            reader.read_to_end(&mut body).map_err(|e| e.to_string())?;
        }
    }
    let output: Value = if body.is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            format!(
                "moto's answer to {operation} is not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        })?
    };
    let passed = ["x-amzn-query-error", "x-amzn-requestid"];
    Ok(Response {
        status,
        headers: headers
            .into_iter()
            .filter(|(k, _)| passed.contains(&k.as_str()))
            .collect(),
        body: cbor_of(&output, ""),
    })
}

/// One CBOR data item as JSON (timestamps as their epoch seconds).
fn json_of(d: &mut Decoder) -> Result<Value, String> {
    let e = |e: minicbor::decode::Error| e.to_string();
    Ok(match d.datatype().map_err(e)? {
        Type::Bool => Value::Bool(d.bool().map_err(e)?),
        Type::Null | Type::Undefined => {
            d.skip().map_err(e)?;
            Value::Null
        }
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::from(d.u64().map_err(e)?),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 => Value::from(d.i64().map_err(e)?),
        Type::F16 | Type::F32 | Type::F64 => Number::from_f64(d.f64().map_err(e)?)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Type::String | Type::StringIndef => {
            let mut s = String::new();
            for chunk in d.str_iter().map_err(e)? {
                s.push_str(chunk.map_err(e)?);
            }
            Value::String(s)
        }
        Type::Array | Type::ArrayIndef => {
            let mut items = Vec::new();
            match d.array().map_err(e)? {
                Some(n) => {
                    for _ in 0..n {
                        items.push(json_of(d)?);
                    }
                }
                None => {
                    while d.datatype().map_err(e)? != Type::Break {
                        items.push(json_of(d)?);
                    }
                    d.skip().map_err(e)?;
                }
            }
            Value::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let mut entries = BTreeMap::new();
            let mut entry = |d: &mut Decoder| -> Result<(), String> {
                let key = match json_of(d)? {
                    Value::String(s) => s,
                    other => return Err(format!("a CBOR map key that is not text: {other}")),
                };
                entries.insert(key, json_of(d)?);
                Ok(())
            };
            match d.map().map_err(e)? {
                Some(n) => {
                    for _ in 0..n {
                        entry(d)?;
                    }
                }
                None => {
                    while d.datatype().map_err(e)? != Type::Break {
                        entry(d)?;
                    }
                    d.skip().map_err(e)?;
                }
            }
            Value::Object(entries.into_iter().collect())
        }
        Type::Tag => {
            d.tag().map_err(e)?;
            json_of(d)?
        }
        other => return Err(format!("a CBOR {other} in a CloudWatch request")),
    })
}

/// `value` as CBOR; `key` is the map key it is the value of.
fn cbor_of(value: &Value, key: &str) -> Vec<u8> {
    let mut enc = Encoder::new(Vec::new());
    write(&mut enc, value, key);
    enc.into_writer()
}

fn write(enc: &mut Encoder<Vec<u8>>, value: &Value, key: &str) {
    match value {
        Value::Null => {
            enc.null().unwrap();
        }
        Value::Bool(b) => {
            enc.bool(*b).unwrap();
        }
        Value::Number(n) => {
            if key.ends_with("Timestamp") {
                enc.tag(Tag::from(IanaTag::Timestamp)).unwrap();
            }
            match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => enc.i64(i).unwrap(),
                (None, Some(u), _) => enc.u64(u).unwrap(),
                (_, _, Some(f)) => enc.f64(f).unwrap(),
                _ => unreachable!("a JSON number is an integer or a float"),
            };
        }
        Value::String(s) => {
            enc.str(s).unwrap();
        }
        Value::Array(items) => {
            enc.array(items.len() as u64).unwrap();
            for item in items {
                write(enc, item, key);
            }
        }
        Value::Object(map) => {
            enc.map(map.len() as u64).unwrap();
            for (k, v) in map {
                enc.str(k).unwrap();
                write(enc, v, k);
            }
        }
    }
}
