//! `wasmkube kubeconfig`: mints a kubeconfig for a user or a ServiceAccount and binds it
//! to a role, the way an administrator does it by hand in Kubernetes — a
//! CertificateSigningRequest for signer kubernetes.io/kube-apiserver-client approved by
//! the admin (the user's private key never leaves this machine), or a TokenRequest for
//! the ServiceAccount — then a RoleBinding or ClusterRoleBinding.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use kube::api::{Api, ObjectMeta, PostParams};
use wasmkube_client::GlobalOptions;
use wasmkube_control_plane::kubeconfig::{KubeconfigCredential, kubeconfig_yaml};
use wasmkube_pki::tls::TlsIdentity;

use crate::certificate_request::{CertificateRequest, SelfApproval};

#[derive(clap::Args)]
pub struct MintKubeconfigArgs {
    /// The user to mint a client certificate for (its common name).
    #[arg(
        long,
        conflicts_with = "service_account",
        required_unless_present = "service_account"
    )]
    user: Option<String>,
    /// A group of the user (its certificate's organizations; repeatable).
    #[arg(long = "group", requires = "user")]
    groups: Vec<String>,
    /// The ServiceAccount (in the namespace of -n) to mint a token for.
    #[arg(long)]
    service_account: Option<String>,
    /// Bind the subject to this ClusterRole: in the namespace of -n when given, else
    /// cluster-wide.
    #[arg(long, conflicts_with = "role")]
    clusterrole: Option<String>,
    /// Bind the subject to this Role of the namespace of -n.
    #[arg(long)]
    role: Option<String>,
    /// How long the credential is valid ("8760h" is a year).
    #[arg(long, default_value = "8760h", value_parser = crate::controller_flags::parse_duration)]
    duration: Duration,
    /// Write the kubeconfig here instead of to standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

/// How long the signer may take before the request counts as stuck.
const SIGNING_PATIENCE: Duration = Duration::from_secs(30);

pub async fn run(global: &GlobalOptions, arguments: MintKubeconfigArgs) -> anyhow::Result<i32> {
    let connection = wasmkube_client::connect(global)
        .await
        .context("cannot reach the API server")?;
    let authority_pem = connection
        .authority_certificates_der
        .iter()
        .map(|der| pem::encode(&pem::Pem::new("CERTIFICATE", der.clone())))
        .collect::<String>();
    if authority_pem.is_empty() {
        bail!("the kubeconfig names no certificate authority to put in the new kubeconfig");
    }
    let client = connection.client;
    let namespace = connection.namespace.clone();
    let (user_name, subject, kubeconfig) = if let Some(user) = &arguments.user {
        let identity =
            user_certificate(&client, user, &arguments.groups, arguments.duration).await?;
        let kubeconfig = kubeconfig_yaml(
            &connection.server_url,
            &authority_pem,
            "wasmkube",
            user,
            KubeconfigCredential::ClientCertificate(&identity),
            &namespace,
        );
        let subject = Subject {
            kind: "User".to_owned(),
            name: user.clone(),
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            namespace: None,
        };
        (user.clone(), subject, kubeconfig)
    } else {
        let account = arguments.service_account.clone().unwrap_or_default();
        let token =
            service_account_token(&client, &namespace, &account, arguments.duration).await?;
        let user_name = format!("system:serviceaccount:{namespace}:{account}");
        let kubeconfig = kubeconfig_yaml(
            &connection.server_url,
            &authority_pem,
            "wasmkube",
            &user_name,
            KubeconfigCredential::Token(&token),
            &namespace,
        );
        let subject = Subject {
            kind: "ServiceAccount".to_owned(),
            name: account,
            api_group: None,
            namespace: Some(namespace.clone()),
        };
        (user_name, subject, kubeconfig)
    };
    bind(
        &client,
        &arguments,
        connection.namespace_was_explicit,
        &namespace,
        &user_name,
        subject,
    )
    .await?;
    match &arguments.output {
        Some(path) => wasmkube_pki::authority::write_file_atomically(path, &kubeconfig, true)?,
        None => std::io::stdout().write_all(kubeconfig.as_bytes())?,
    }
    Ok(0)
}

/// A client certificate for `user`, through a CSR that the caller (an admin) approves.
async fn user_certificate(
    client: &kube::Client,
    user: &str,
    groups: &[String],
    duration: Duration,
) -> anyhow::Result<TlsIdentity> {
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    let subject = wasmkube_pki::Subject::new(user, &groups);
    let request = CertificateRequest {
        name_prefix: "wasmkube-kubeconfig",
        subject: &subject,
        dns_names: &[],
        addresses: &[],
        signer_name: "kubernetes.io/kube-apiserver-client",
        usages: &["digital signature", "client auth"],
        expiration_seconds: Some(i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)),
        approval: Some(SelfApproval {
            reason: "WasmkubeKubeconfig",
            message: format!("approved by `wasmkube kubeconfig` for user {user}"),
        }),
        patience: SIGNING_PATIENCE,
    };
    let (name, identity) = request.signed(client.clone()).await?;
    // The request has served its purpose; the certificate lives on in the kubeconfig.
    let requests: Api<CertificateSigningRequest> = Api::all(client.clone());
    let _ = requests.delete(&name, &Default::default()).await;
    Ok(identity)
}

/// A token for the ServiceAccount, made first if it does not exist.
async fn service_account_token(
    client: &kube::Client,
    namespace: &str,
    account: &str,
    duration: Duration,
) -> anyhow::Result<String> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    if accounts.get_opt(account).await?.is_none() {
        let new_account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(account.to_owned()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        accounts
            .create(&PostParams::default(), &new_account)
            .await
            .with_context(|| format!("cannot create the ServiceAccount {namespace}/{account}"))?;
    }
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let answer: TokenRequest = accounts
        .create_subresource("token", account, &PostParams::default(), &request)
        .await
        .with_context(|| {
            format!("cannot request a token for the ServiceAccount {namespace}/{account}")
        })?;
    let token = answer.status.map(|status| status.token).unwrap_or_default();
    if token.is_empty() {
        bail!(
            "the API server answered the token request for {namespace}/{account} without a token"
        );
    }
    Ok(token)
}

/// The RoleBinding or ClusterRoleBinding the flags ask for, if any.
async fn bind(
    client: &kube::Client,
    arguments: &MintKubeconfigArgs,
    namespace_was_explicit: bool,
    namespace: &str,
    user_name: &str,
    subject: Subject,
) -> anyhow::Result<()> {
    let (kind, role) = match (&arguments.role, &arguments.clusterrole) {
        (Some(role), _) => ("Role", role),
        (None, Some(role)) => ("ClusterRole", role),
        (None, None) => return Ok(()),
    };
    let role_ref = RoleRef {
        api_group: "rbac.authorization.k8s.io".to_owned(),
        kind: kind.to_owned(),
        name: role.clone(),
    };
    let name = format!("{user_name}:{}", role.replace(':', "-"));
    let metadata = ObjectMeta {
        name: Some(name.clone()),
        ..ObjectMeta::default()
    };
    let post = PostParams::default();
    if kind == "ClusterRole" && !namespace_was_explicit {
        let binding = ClusterRoleBinding {
            metadata,
            role_ref,
            subjects: Some(vec![subject]),
        };
        Api::<ClusterRoleBinding>::all(client.clone())
            .create(&post, &binding)
            .await
            .with_context(|| format!("cannot create the ClusterRoleBinding {name}"))?;
    } else {
        let binding = RoleBinding {
            metadata,
            role_ref,
            subjects: Some(vec![subject]),
        };
        Api::<RoleBinding>::namespaced(client.clone(), namespace)
            .create(&post, &binding)
            .await
            .with_context(|| format!("cannot create the RoleBinding {namespace}/{name}"))?;
    }
    Ok(())
}
