//! Health of a Redis Cluster: every primary reachable and agreeing that the
//! cluster is up (`cluster_state:ok`), not just one node answering.

use redis::Value;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};

use hyperstate::{Error, Result};

use crate::error::backend_error;

/// Sends `CLUSTER INFO` to every primary; fails when one does not answer or
/// does not say `cluster_state:ok`.
pub(crate) async fn check(conn: &mut ClusterConnection) -> Result<()> {
    let mut info = redis::cmd("CLUSTER");
    info.arg("INFO");
    // No response policy: every primary's answer comes back, keyed by node.
    let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
    let answers = conn
        .route_command(info, routing)
        .await
        .map_err(|err| backend_error("ping", err))?;
    let mut texts = Vec::new();
    collect_texts(&answers, &mut texts);
    if texts.is_empty() {
        return Err(Error::backend(
            "redis",
            "ping",
            "no primary answered CLUSTER INFO",
        ));
    }
    match texts.iter().find(|text| !state_ok(text)) {
        None => Ok(()),
        Some(_) => Err(Error::backend(
            "redis",
            "ping",
            "a Redis Cluster primary reports cluster_state other than ok",
        )),
    }
}

/// Whether one `CLUSTER INFO` answer says the cluster is up.
fn state_ok(info: &str) -> bool {
    info.lines().any(|line| line.trim() == "cluster_state:ok")
}

/// The `CLUSTER INFO` texts in an answer, however the nodes' answers are
/// combined (a map of node to text, or a list).
fn collect_texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::BulkString(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            if text.contains("cluster_state:") {
                out.push(text.into_owned());
            }
        }
        Value::VerbatimString { text, .. } if text.contains("cluster_state:") => {
            out.push(text.clone())
        }
        Value::SimpleString(text) if text.contains("cluster_state:") => out.push(text.clone()),
        Value::Array(items) | Value::Set(items) => {
            items.iter().for_each(|item| collect_texts(item, out))
        }
        Value::Map(pairs) => pairs.iter().for_each(|(_, v)| collect_texts(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_must_say_ok() {
        let ok = Value::BulkString(b"cluster_enabled:1\r\ncluster_state:ok\r\n".to_vec());
        let fail = Value::BulkString(b"cluster_state:fail\r\n".to_vec());
        let mut texts = Vec::new();
        collect_texts(
            &Value::Map(vec![
                (Value::SimpleString("a".into()), ok.clone()),
                (Value::SimpleString("b".into()), fail),
            ]),
            &mut texts,
        );
        assert_eq!(texts.len(), 2);
        assert!(state_ok(&texts[0]));
        assert!(!state_ok(&texts[1]));
    }
}
