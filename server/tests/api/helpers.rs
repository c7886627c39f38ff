//! `spawn_app`: start the real application for one test and talk to it over HTTP.

use server::configuration::Settings;
use server::startup::Application;
use sqlx::PgPool;

/// A running application and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
}

impl TestApp {
    /// `GET` a path of the application.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request reaches the test server")
    }
}

/// Starts the application on a free port with the test stack's settings.
pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, |_| {}).await
}

/// Like `spawn_app`, with a chance to change the settings first.
pub async fn spawn_app_with(pool: PgPool, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = Settings::load(None).expect("the test settings are valid");
    settings.server.port = 0;
    configure(&mut settings);
    let application = Application::build_with_pool(settings, pool)
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until(std::future::pending()));
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client"),
    }
}
