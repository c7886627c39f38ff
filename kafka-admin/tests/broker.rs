//! ACLs and SCRAM credentials against the real Apache Kafka of the test stack, which runs with
//! SASL (PLAIN for Meshmart's admin user, SCRAM-SHA-512 for service accounts) and the
//! StandardAuthorizer (`make test` sets `KAFKA_BOOTSTRAP_SERVERS`).
//!
//! Each test works on principals, users and topic names of its own, so tests sharing the
//! broker never see each other's ACLs or credentials.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use kafka_admin::acl::{
    self, AclBinding, AclError, AclFilter, Operation, PatternFilter, PatternType, Permission,
    ResourceType,
};
use kafka_admin::scram::{self, ScramError, ScramMechanism};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

/// How long one admin call may wait for the broker.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A client configuration for `user`, signing in with the SASL `mechanism`.
fn client_config(mechanism: &str, user: &str, password: &str) -> ClientConfig {
    let servers = std::env::var("KAFKA_BOOTSTRAP_SERVERS")
        .expect("KAFKA_BOOTSTRAP_SERVERS points at the test broker (run `make test`)");
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", servers)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanisms", mechanism)
        .set("sasl.username", user)
        .set("sasl.password", password);
    config
}

/// An admin client as Meshmart's own (super) user.
fn admin() -> AdminClient<DefaultClientContext> {
    client_config("PLAIN", "meshmart-admin", "meshmart-admin-secret")
        .create()
        .expect("admin client")
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Reads until `read` returns `want`, for at most ten seconds. The broker answers describes
/// from its copy of the metadata, which follows the controller's commits a moment later.
fn eventually<T: PartialEq + Debug>(want: T, mut read: impl FnMut() -> T) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = read();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {got:?}, expected {want:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `user` can sign in to the broker with SCRAM-SHA-512 and `password`.
fn scram_login(user: &str, password: &str) -> Result<(), String> {
    let consumer: BaseConsumer = client_config("SCRAM-SHA-512", user, password)
        .create()
        .map_err(|e| e.to_string())?;
    consumer
        .fetch_metadata(None, Duration::from_secs(5))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn topic_acl(topic: &str, pattern_type: PatternType, principal: &str, op: Operation) -> AclBinding {
    AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: topic.to_owned(),
        pattern_type,
        principal: principal.to_owned(),
        host: "*".to_owned(),
        operation: op,
        permission: Permission::Allow,
    }
}

#[test]
fn acls_are_created_described_and_deleted() {
    let client = admin();
    let principal = format!("User:{}", unique("kafka-admin-acl"));
    let topic = unique("kafka-admin-topic");
    let read = topic_acl(&topic, PatternType::Literal, &principal, Operation::Read);
    let write = topic_acl(&topic, PatternType::Prefixed, &principal, Operation::Write);
    let theirs = AclFilter {
        principal: Some(principal.clone()),
        ..AclFilter::default()
    };
    let describe =
        |filter: &AclFilter| acl::describe_acls(&client, filter, TIMEOUT).expect("describe");
    assert_eq!(describe(&theirs), []);

    acl::create_acls(&client, &[read.clone(), write.clone()], TIMEOUT).expect("create");
    eventually(vec![read.clone(), write.clone()], || describe(&theirs));
    // Creating an ACL that exists changes nothing.
    acl::create_acls(&client, std::slice::from_ref(&read), TIMEOUT).expect("create again");
    assert_eq!(describe(&theirs), [read.clone(), write.clone()]);

    // `Match` finds what applies to a resource: the literal ACL only to its own name, the
    // prefixed one to every name it starts.
    let applying_to = |name: &str| AclFilter {
        resource_type: Some(ResourceType::Topic),
        resource_name: Some(name.to_owned()),
        pattern: PatternFilter::Match,
        ..theirs.clone()
    };
    assert_eq!(
        describe(&applying_to(&topic)),
        [read.clone(), write.clone()]
    );
    assert_eq!(
        describe(&applying_to(&format!("{topic}.orders"))),
        std::slice::from_ref(&write)
    );

    let deleted = acl::delete_acls(&client, &[AclFilter::exact(&read)], TIMEOUT).expect("delete");
    assert_eq!(deleted, std::slice::from_ref(&read));
    eventually(vec![write.clone()], || describe(&theirs));
    let deleted =
        acl::delete_acls(&client, std::slice::from_ref(&theirs), TIMEOUT).expect("delete rest");
    assert_eq!(deleted, [write]);
    eventually(vec![], || describe(&theirs));
    // Deleting what is not there is not an error.
    let deleted = acl::delete_acls(&client, &[AclFilter::exact(&read)], TIMEOUT).expect("delete");
    assert_eq!(deleted, []);
}

#[test]
fn the_broker_refuses_a_malformed_acl() {
    let client = admin();
    // A principal needs a type (`User:`); librdkafka sends it, the broker refuses it.
    let binding = topic_acl(
        &unique("kafka-admin-topic"),
        PatternType::Literal,
        "no-type",
        Operation::Read,
    );
    let error = acl::create_acls(&client, &[binding], TIMEOUT).expect_err("refused");
    assert!(
        matches!(&error, AclError::Broker { code, .. } if code == "INVALID_REQUEST"),
        "{error:?}"
    );
}

#[test]
fn scram_credentials_are_upserted_described_and_deleted() {
    let client = admin();
    let user = unique("kafka-admin-scram");
    let describe = || scram::describe_scram_credentials(&client, &user, TIMEOUT).expect("describe");
    assert_eq!(describe(), []);

    scram::upsert_scram_credential(
        &client,
        &user,
        ScramMechanism::Sha512,
        4096,
        "first",
        TIMEOUT,
    )
    .expect("upsert");
    eventually(vec![ScramMechanism::Sha512], describe);
    eventually(Ok(()), || scram_login(&user, "first"));
    assert!(scram_login(&user, "wrong").is_err());

    // Upserting replaces the password; a credential for another mechanism sits beside it.
    scram::upsert_scram_credential(
        &client,
        &user,
        ScramMechanism::Sha512,
        8192,
        "second",
        TIMEOUT,
    )
    .expect("replace");
    scram::upsert_scram_credential(
        &client,
        &user,
        ScramMechanism::Sha256,
        4096,
        "third",
        TIMEOUT,
    )
    .expect("upsert SHA-256");
    eventually(Ok(()), || scram_login(&user, "second"));
    assert!(scram_login(&user, "first").is_err());
    eventually(
        vec![ScramMechanism::Sha256, ScramMechanism::Sha512],
        describe,
    );

    scram::delete_scram_credential(&client, &user, ScramMechanism::Sha512, TIMEOUT)
        .expect("delete");
    eventually(vec![ScramMechanism::Sha256], describe);
    eventually(true, || scram_login(&user, "second").is_err());
    scram::delete_scram_credential(&client, &user, ScramMechanism::Sha256, TIMEOUT)
        .expect("delete SHA-256");
    eventually(vec![], describe);
    // Deleting a credential that does not exist succeeds.
    scram::delete_scram_credential(&client, &user, ScramMechanism::Sha512, TIMEOUT)
        .expect("delete again");
}

#[test]
fn a_principal_without_cluster_rights_is_refused() {
    let admin = admin();
    let user = unique("kafka-admin-nobody");
    scram::upsert_scram_credential(&admin, &user, ScramMechanism::Sha512, 4096, "pw", TIMEOUT)
        .expect("upsert");
    eventually(Ok(()), || scram_login(&user, "pw"));
    let nobody: AdminClient<DefaultClientContext> = client_config("SCRAM-SHA-512", &user, "pw")
        .create()
        .expect("client");

    let binding = topic_acl(
        &unique("kafka-admin-topic"),
        PatternType::Literal,
        &format!("User:{user}"),
        Operation::Read,
    );
    let error = acl::create_acls(&nobody, &[binding], TIMEOUT).expect_err("refused");
    assert!(
        matches!(&error, AclError::Broker { code, .. } if code == "CLUSTER_AUTHORIZATION_FAILED"),
        "{error:?}"
    );
    // librdkafka 2.12 would free an invalid pointer with this refusal; the call must report it
    // instead of aborting the process.
    let error = scram::describe_scram_credentials(&nobody, &user, TIMEOUT).expect_err("refused");
    assert!(
        matches!(&error, ScramError::Broker { code, .. } if code == "CLUSTER_AUTHORIZATION_FAILED"),
        "{error:?}"
    );
    let error =
        scram::upsert_scram_credential(&nobody, &user, ScramMechanism::Sha512, 4096, "x", TIMEOUT)
            .expect_err("refused");
    assert!(
        matches!(&error, ScramError::Broker { code, .. } if code == "CLUSTER_AUTHORIZATION_FAILED"),
        "{error:?}"
    );

    scram::delete_scram_credential(&admin, &user, ScramMechanism::Sha512, TIMEOUT)
        .expect("clean up");
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let client = admin();
    let mut binding = topic_acl("orders", PatternType::Literal, "User:a\0b", Operation::Read);
    assert!(matches!(
        acl::create_acls(&client, &[binding.clone()], TIMEOUT),
        Err(AclError::Invalid(_))
    ));
    binding.principal = "User:a".to_owned();
    binding.operation = Operation::Unknown;
    assert!(matches!(
        acl::delete_acls(&client, &[AclFilter::exact(&binding)], TIMEOUT),
        Err(AclError::Invalid(_))
    ));
    assert!(matches!(
        scram::upsert_scram_credential(&client, "svc", ScramMechanism::Sha512, 100, "pw", TIMEOUT),
        Err(ScramError::Invalid(_))
    ));
    assert!(matches!(
        scram::describe_scram_credentials(&client, "", TIMEOUT),
        Err(ScramError::Invalid(_))
    ));
}
