//! `bwv serve`: the evidence service, an HTTP JSON API on axum over the same operations the
//! command line runs ([`crate::ops`]), for accounts with roles.
//!
//! Shape (after mini-redis): [`run`] takes a bound listener and a shutdown future, serves until
//! the future ends, then lets requests in flight finish and seals the log. Blocking work (the
//! index, GStreamer, hashing) runs on tokio's blocking threads, never the async ones, and at most
//! [`Settings::max_jobs`] of it at once: beyond that a request is refused with 503 `busy`
//! rather than queued without bound.
//!
//! Every request is authenticated (a session cookie, or an API token) and checked against the
//! caller's role on the server; every look at footage and every change is an event whose actor
//! is the account. Events appended by reads are covered by a signed checkpoint at most
//! [`Settings::seal_every`] later (and at shutdown); changes seal at once, as on the command line.

mod api;
mod auth;
mod error;
mod pages;
mod sar;

pub use error::ApiError;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::sync::Semaphore;

use crate::accounts::Accounts;
use crate::clock::Clock;
use crate::custody::Store;
use crate::home::Home;
use crate::ops::Ops;

/// Largest request body accepted (JSON requests are small).
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// Blocking jobs run at once.
pub const DEFAULT_MAX_JOBS: usize = 8;
/// How often events appended by reads are sealed.
pub const DEFAULT_SEAL_EVERY: Duration = Duration::from_secs(10);

/// The service's frozen configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Blocking jobs (index work, file streaming set-up, renders) run at once.
    pub max_jobs: usize,
    /// How often to sign a checkpoint over events appended since the last.
    pub seal_every: Duration,
    /// Mark session cookies `Secure` (sent only over HTTPS, or to localhost).
    pub secure_cookies: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            max_jobs: DEFAULT_MAX_JOBS,
            seal_every: DEFAULT_SEAL_EVERY,
            secure_cookies: true,
        }
    }
}

/// What every request handler shares.
#[derive(Debug)]
pub struct Service {
    home: Home,
    store: Box<dyn Store>,
    accounts: Accounts,
    clock: Arc<dyn Clock>,
    settings: Settings,
    jobs: Arc<Semaphore>,
    limiter: Mutex<auth::Limiter>,
}

impl Service {
    /// A service over `store` (kept in `home`) for `accounts`.
    pub fn new(
        home: Home,
        store: Box<dyn Store>,
        accounts: Accounts,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        Self {
            jobs: Arc::new(Semaphore::new(settings.max_jobs.max(1))),
            home,
            store,
            accounts,
            clock,
            settings,
            limiter: Mutex::new(auth::Limiter::default()),
        }
    }

    /// Operations done by `actor`.
    fn ops<'a>(&'a self, actor: &'a str) -> Ops<'a> {
        Ops::new(&self.home, self.store.as_ref(), actor)
    }
}

/// Runs `f` on a blocking thread, if one of the service's job slots is free.
async fn blocking<T: Send + 'static>(
    service: &Arc<Service>,
    f: impl FnOnce(&Service) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let permit = Arc::clone(&service.jobs).try_acquire_owned().map_err(|_| {
        ApiError::busy(format!(
            "the service is running {} jobs, its limit: try again shortly",
            service.settings.max_jobs
        ))
    })?;
    let service = Arc::clone(service);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f(&service)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("a job stopped: {e}"),
        )
    })?
}

/// The API's routes.
pub fn router(service: Arc<Service>) -> Router {
    let max_body = service.settings.max_body;
    Router::new()
        .route("/api/health", get(api::health))
        .route("/api/login", post(auth::login))
        .route("/api/logout", post(auth::logout))
        .route("/api/me", get(auth::me))
        .route("/api/accounts", get(auth::accounts).post(auth::add_account))
        .route("/api/recordings", get(api::list))
        .route("/api/recordings/{id}", get(api::show))
        .route("/api/recordings/{id}/proxy", get(api::proxy))
        .route(
            "/api/recordings/{id}/contact-sheet",
            get(api::contact_sheet),
        )
        .route("/api/recordings/{id}/master", get(api::master))
        .route("/api/recordings/{id}/flag", post(api::flag))
        .route("/api/recordings/{id}/hold", post(api::hold))
        .route("/api/recordings/{id}/release", post(api::release))
        .route("/api/verify", post(api::verify))
        .route("/api/sars", get(sar::list).post(sar::open))
        .route("/api/sars/{id}", get(sar::show))
        .route("/api/sars/{id}/link", post(sar::link))
        .route("/api/sars/{id}/disclose", post(sar::disclose))
        .route("/api/sars/{id}/close", post(sar::close))
        .route("/api/log/checkpoint", get(api::checkpoint))
        .route("/api/log/proof/{seq}", get(api::proof))
        .route("/", get(pages::shell))
        .route("/login", get(pages::shell))
        .route("/recordings", get(pages::shell))
        .route("/recordings/{id}", get(pages::shell))
        .route("/sars", get(pages::shell))
        .route("/sars/{id}", get(pages::shell))
        .route("/static/app.js", get(pages::script))
        .route("/static/app.css", get(pages::style))
        .fallback(api::no_route)
        .layer(axum::middleware::map_response(pages::harden))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .with_state(service)
}

/// Serves `service` on `listener` until `shutdown` completes, then drains requests in flight
/// and signs a last checkpoint.
pub async fn run(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sealer = tokio::spawn(seal_periodically(Arc::clone(&service)));
    let app = router(Arc::clone(&service)).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    sealer.abort();
    seal(&service).await;
    served
}

/// Signs a checkpoint over events appended since the last (nothing when none were).
async fn seal(service: &Arc<Service>) {
    let service = Arc::clone(service);
    let sealed = tokio::task::spawn_blocking(move || service.ops(SERVICE_ACTOR).seal()).await;
    if let Ok(Err(e)) = sealed {
        eprintln!("bwv serve: sign a checkpoint: {e}");
    }
}

async fn seal_periodically(service: Arc<Service>) {
    let mut every = tokio::time::interval(service.settings.seal_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        seal(&service).await;
    }
}

/// The actor of what the service does on its own (sealing).
const SERVICE_ACTOR: &str = "bwv-serve";
