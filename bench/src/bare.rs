//! The gateway ceiling: a bare hyper HTTP/1.1 server that does no work. Every request gets
//! 200 with a fixed JSON body shaped like a GetAppInfos answer (~250 bytes). It runs as a
//! child process (`vodstack-bench bare-server --addr ...`) on the same tokio multi-thread
//! runtime defaults as vodstack, and stops on SIGTERM (the default action).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const BODY: &str = concat!(
    r#"{"RequestId":"25818875-5F78-4A13-BEF6-D7393642CA58","AppInfoList":[{"AppId":"app-1000000","#,
    r#""AppName":"Default","Type":"System","Status":"Normal","Description":"","#,
    r#""CreationTime":"2024-01-01T00:00:00Z","ModificationTime":"2024-01-01T00:00:00Z","#,
    r#""RegionId":"cn-shanghai","ResourceGroupId":""}],"NonExistAppIds":[]}"#
);

async fn answer(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"));
    Ok(resp)
}

/// Serves until the process is killed.
pub async fn serve(addr: String) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&addr).await?;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("bare-server: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::load::{self, Plan, RequestFn};
    use crate::sign::V3Signer;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn load_generator_against_the_bare_server() {
        let addr = crate::proc::free_addr().unwrap();
        tokio::spawn(super::serve(addr.to_string()));
        let signer = V3Signer::new(&addr.to_string(), "GetAppInfos", "2017-03-21", &[], ("a", "b"));
        let make: RequestFn = Arc::new(move |out: &mut Vec<u8>| signer.write_request(out));
        let mut ready = false;
        for _ in 0..100 {
            if load::probe(addr, &make, Duration::from_secs(1))
                .await
                .is_ok_and(|r| r.status == 200)
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(ready, "bare server never answered");
        let plan = Plan {
            addr,
            connections: 4,
            warmup: Duration::from_millis(50),
            duration: Duration::from_millis(200),
            timeout: Duration::from_secs(2),
        };
        let stats = load::run(&plan, make).await;
        assert_eq!(stats.errors, 0, "{:?}", stats.first_error);
        assert!(stats.requests > 0);
        assert_eq!(stats.latency.len(), stats.requests);
    }
}
