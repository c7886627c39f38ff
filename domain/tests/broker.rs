//! The broker connection against the real Apache Kafka of the test stack, which runs with
//! SASL and the StandardAuthorizer (`make test` sets `KAFKA_BOOTSTRAP_SERVERS`).

use std::time::Duration;

use domain::broker::{BrokerAdmin, BrokerConfig, BrokerError};

fn config(username: &str, password: &str) -> BrokerConfig {
    BrokerConfig {
        bootstrap_servers: std::env::var("KAFKA_BOOTSTRAP_SERVERS")
            .expect("KAFKA_BOOTSTRAP_SERVERS points at the test broker (run `make test`)"),
        security_protocol: "SASL_PLAINTEXT".to_string(),
        sasl_mechanism: "PLAIN".to_string(),
        username: username.to_string(),
        password: password.to_string().into(),
    }
}

#[tokio::test]
async fn the_admin_principal_sees_the_cluster() {
    let admin =
        BrokerAdmin::new(&config("meshmart-admin", "meshmart-admin-secret")).expect("client");
    let status = admin
        .check(Duration::from_secs(10))
        .await
        .expect("broker answers");
    assert_eq!(status.brokers, 1);
}

#[tokio::test]
async fn a_wrong_password_is_refused_by_the_broker() {
    let admin = BrokerAdmin::new(&config("meshmart-admin", "wrong")).expect("client");
    let error = admin
        .check(Duration::from_secs(5))
        .await
        .expect_err("SASL must refuse a wrong password");
    assert!(matches!(error, BrokerError::Unreachable(_)), "{error:?}");
}
