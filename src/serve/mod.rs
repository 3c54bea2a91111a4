//! `bwv serve`: the evidence service, an HTTP JSON API on axum over the same operations the
//! command line runs ([`crate::ops`]), for accounts with roles.
//!
//! Shape (after mini-redis): [`run`] takes a bound listener and a shutdown future, serves until
//! the future ends, then lets requests in flight finish, lets its workers finish their jobs and
//! seals the log. Blocking work (the index, file set-up, hashing) runs on tokio's blocking
//! threads, never the async ones, at most [`Settings::max_jobs`] at once; a request that waits
//! too long for a slot is refused with 503 `busy` rather than queued without bound. Long work
//! (redaction plans and renders) is a job in the durable queue, run by the service's own
//! workers or `bwv worker`s, and refused beyond [`Settings::max_queued`].
//!
//! Every request is authenticated (a session cookie, or an API token) and checked against the
//! caller's role on the server; every look at footage and every change is an event whose actor
//! is the account. Events appended by reads are covered by a signed checkpoint at most
//! [`Settings::seal_every`] later (and at shutdown); changes seal at once, as on the command line.

mod admin;
mod api;
mod auth;
mod error;
mod pages;
mod redact;
mod sar;

pub use error::ApiError;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::sync::Semaphore;

use crate::accounts::Accounts;
use crate::clock::Clock;
use crate::custody::Store;
use crate::home::Home;
use crate::jobs::Queue;
use crate::jobs::worker::{LoadDetector, Report, Until, Worker};
use crate::ops::Ops;

/// Largest request body accepted (JSON requests are small).
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// Blocking slots (index work, file set-up) in use at once.
pub const DEFAULT_MAX_JOBS: usize = 8;
/// Jobs queued or running before new ones are refused.
pub const DEFAULT_MAX_QUEUED: u64 = 16;
/// How often events appended by reads are sealed.
pub const DEFAULT_SEAL_EVERY: Duration = Duration::from_secs(10);

/// The service's frozen configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Blocking slots: index work and file set-up run at once on tokio's blocking threads.
    pub max_jobs: usize,
    /// How often to sign a checkpoint over events appended since the last.
    pub seal_every: Duration,
    /// Mark session cookies `Secure` (sent only over HTTPS, or to localhost).
    pub secure_cookies: bool,
    /// Workers inside the service that run its jobs (plans, renders); 0 leaves them to
    /// `bwv worker` processes.
    pub workers: usize,
    /// Jobs queued or running at once beyond which new ones are refused (503 `busy`).
    pub max_queued: u64,
    /// The dock folders an admin may have ingested (`POST /api/ingest`), by folder name.
    pub docks: Vec<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            max_jobs: DEFAULT_MAX_JOBS,
            seal_every: DEFAULT_SEAL_EVERY,
            secure_cookies: true,
            workers: 1,
            max_queued: DEFAULT_MAX_QUEUED,
            docks: Vec::new(),
        }
    }
}

/// What every request handler shares.
pub struct Service {
    home: Home,
    store: Box<dyn Store>,
    accounts: Accounts,
    queue: Box<dyn Queue>,
    detector: Option<Box<LoadDetector>>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    slots: Arc<Semaphore>,
    limiter: Mutex<auth::Limiter>,
    stop: AtomicBool,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("home", &self.home)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What a service is made of.
#[derive(Debug)]
pub struct Parts {
    /// The store's folders and objects.
    pub home: Home,
    /// The custody index.
    pub store: Box<dyn Store>,
    /// The accounts beside it.
    pub accounts: Accounts,
    /// The job queue beside it.
    pub queue: Box<dyn Queue>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

impl Service {
    /// A service over `parts`; `detector` loads the face detector for plan jobs run inside it.
    pub fn new(parts: Parts, detector: Option<Box<LoadDetector>>, settings: Settings) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(settings.max_jobs.max(1))),
            home: parts.home,
            store: parts.store,
            accounts: parts.accounts,
            queue: parts.queue,
            detector,
            clock: parts.clock,
            settings,
            limiter: Mutex::new(auth::Limiter::default()),
            stop: AtomicBool::new(false),
        }
    }

    /// Operations done by `actor`.
    fn ops<'a>(&'a self, actor: &'a str) -> Ops<'a> {
        Ops::new(&self.home, self.store.as_ref(), actor)
    }
}

/// How long a request waits for one of the service's blocking slots before it is refused.
const SLOT_WAIT: Duration = Duration::from_secs(10);

/// Runs `f` on a blocking thread once one of the service's slots is free (waiting at most
/// [`SLOT_WAIT`]: beyond that the machine is overloaded and the request is refused).
async fn blocking<T: Send + 'static>(
    service: &Arc<Service>,
    f: impl FnOnce(&Service) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let slot = Arc::clone(&service.slots).acquire_owned();
    let permit = match tokio::time::timeout(SLOT_WAIT, slot).await {
        Ok(Ok(permit)) => permit,
        _ => {
            return Err(ApiError::busy(format!(
                "the service's {} slots stayed busy for {} s: try again shortly",
                service.settings.max_jobs,
                SLOT_WAIT.as_secs()
            )));
        }
    };
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

/// 201 Created with a JSON body: what a request made.
fn created(body: serde_json::Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    (axum::http::StatusCode::CREATED, axum::Json(body)).into_response()
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
        .route("/api/accounts/{name}/disable", post(auth::disable))
        .route("/api/accounts/{name}/enable", post(auth::enable))
        .route("/api/accounts/{name}/password", post(auth::password))
        .route("/api/accounts/{name}/tokens", post(auth::add_token))
        .route("/api/tokens", get(auth::tokens))
        .route("/api/tokens/{id}/revoke", post(auth::revoke))
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
        .route("/api/policy", get(admin::policy).put(admin::set_policy))
        .route("/api/retention/sweep", post(admin::sweep))
        .route("/api/jobs", get(admin::jobs))
        .route("/api/unreadable", get(admin::unreadable))
        .route("/api/ingest", get(admin::docks).post(admin::ingest))
        .route("/api/log/pubkey", get(api::pubkey))
        .route("/api/recordings/{id}/frames", get(api::frames))
        .route("/api/recordings/{id}/supersede", post(redact::supersede))
        .route("/api/jobs/{id}", get(redact::job))
        .route(
            "/api/recordings/{id}/plans",
            get(redact::plans).post(redact::plan),
        )
        .route("/api/recordings/{id}/plans/{sha}", get(redact::plan_json))
        .route(
            "/api/recordings/{id}/plans/{sha}/preview",
            get(redact::preview),
        )
        .route("/api/recordings/{id}/render", post(redact::render))
        .route("/api/recordings/{id}/redacted/{sha}", get(redact::redacted))
        .route("/recordings/{id}/redact", get(pages::shell))
        .route("/api/sars", get(sar::list).post(sar::open))
        .route("/api/sars/{id}", get(sar::show))
        .route("/api/sars/{id}/link", post(sar::link))
        .route("/api/sars/{id}/disclose", post(sar::disclose))
        .route("/api/sars/{id}/close", post(sar::close))
        .route("/api/log/checkpoint", get(api::checkpoint))
        .route("/api/log/proof/{seq}", get(api::proof))
        .route("/api/log/consistency", post(api::consistency))
        .route("/api/recordings/{id}/export", get(api::export))
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
    let workers: Vec<_> = (0..service.settings.workers)
        .map(|i| {
            let service = Arc::clone(&service);
            std::thread::Builder::new()
                .name(format!("bwv-serve-worker-{i}"))
                .spawn(move || service.work(i))
        })
        .collect::<std::io::Result<_>>()?;
    let app = router(Arc::clone(&service)).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    sealer.abort();
    // Workers finish the job they are running (another would take it after its lease anyway).
    service.stop.store(true, Ordering::SeqCst);
    let _ = tokio::task::spawn_blocking(move || {
        for w in workers {
            let _ = w.join();
        }
    })
    .await;
    seal(&service).await;
    served
}

impl Service {
    /// One worker thread: runs queued jobs until the service stops.
    fn work(&self, i: usize) {
        let settings = crate::ingest::Settings::default();
        let worker = Worker {
            name: format!("{}:serve-{i}", crate::jobs::worker::default_name()),
            queue: self.queue.as_ref(),
            home: &self.home,
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            lease: Duration::from_secs(60),
            idle: Duration::from_millis(250),
            patience: Duration::from_secs(600),
            settings: &settings,
            detector: self.detector.as_deref(),
            stop: Some(&self.stop),
        };
        let ran = worker.run(Until::Stopped, &mut |report| match report {
            Report::Ran(r) if r.error.is_some() => eprintln!(
                "bwv serve: job {} ({}) {}: {}",
                r.job,
                r.kind,
                r.outcome,
                r.error.as_deref().unwrap_or_default()
            ),
            Report::Waiting { error, .. } => eprintln!("bwv serve: job queue: {error}"),
            Report::Ran(_) => {}
        });
        if let Err(e) = ran {
            eprintln!("bwv serve: worker {i} stopped: {e}");
        }
    }
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
