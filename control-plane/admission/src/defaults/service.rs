//! Service and Endpoints defaulting (`SetDefaults_Service`, `SetDefaults_Endpoints`). Cluster IPs,
//! IP families and node ports come from the API server's allocators, not from here.

use serde_json::{Map, Value, json};

use crate::json::{
    child_object, default_field, default_text, existing_child_object, objects_in_array,
};

/// Kubernetes' `DefaultClientIPServiceAffinitySeconds` (3 hours).
const DEFAULT_CLIENT_IP_AFFINITY_SECONDS: i64 = 10800;

pub fn apply_service_defaults(object: &mut Map<String, Value>) {
    let Some(spec) = child_object(object, "spec") else {
        return;
    };
    default_text(spec, "sessionAffinity", "None");
    match spec.get("sessionAffinity").and_then(Value::as_str) {
        Some("None") => {
            spec.remove("sessionAffinityConfig");
        }
        Some("ClientIP") => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|config| config.pointer("/clientIP/timeoutSeconds"))
                .is_some_and(|timeout| !timeout.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".to_string(),
                    json!({"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_AFFINITY_SECONDS}}),
                );
            }
        }
        _ => {}
    }
    default_text(spec, "type", "ClusterIP");
    for port in objects_in_array(spec, "ports") {
        default_text(port, "protocol", "TCP");
        let target_port_unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(number)) => number.as_i64() == Some(0),
            Some(Value::String(name)) => name.is_empty(),
            Some(_) => false,
        };
        if target_port_unset && let Some(number) = port.get("port").cloned() {
            port.insert("targetPort".to_string(), number);
        }
    }
    let service_type = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|ips| !ips.is_empty());
    let externally_accessible = service_type == "LoadBalancer"
        || service_type == "NodePort"
        || (service_type == "ClusterIP" && has_external_ips);
    if externally_accessible {
        default_text(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(
        service_type.as_str(),
        "NodePort" | "LoadBalancer" | "ClusterIP"
    ) {
        default_field(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if service_type == "LoadBalancer" {
        default_field(spec, "allocateLoadBalancerNodePorts", json!(true));
        let ingress_list = existing_child_object(object, "status")
            .and_then(|status| existing_child_object(status, "loadBalancer"))
            .and_then(|load_balancer| load_balancer.get_mut("ingress"))
            .and_then(Value::as_array_mut);
        for ingress in ingress_list
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            let has_ip = ingress
                .get("ip")
                .and_then(Value::as_str)
                .is_some_and(|ip| !ip.is_empty());
            if has_ip {
                default_field(ingress, "ipMode", json!("VIP"));
            }
        }
    }
}

pub fn apply_endpoints_defaults(object: &mut Map<String, Value>) {
    for subset in objects_in_array(object, "subsets") {
        for port in objects_in_array(subset, "ports") {
            default_text(port, "protocol", "TCP");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn defaulted(kind: &str, object: serde_json::Value) -> serde_json::Value {
        let mut object = object;
        crate::apply_defaults(kind, &mut object);
        object
    }

    #[test]
    fn cluster_ip_service_defaults() {
        let service = defaulted(
            "Service",
            json!({"spec": {"selector": {"app": "web"}, "ports": [{"port": 80}, {"port": 443, "targetPort": "https", "protocol": "TCP"}]}}),
        );
        assert_eq!(
            service["spec"],
            json!({
                "selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}, {"port": 443, "targetPort": "https", "protocol": "TCP"}],
                "sessionAffinity": "None",
                "type": "ClusterIP",
                "internalTrafficPolicy": "Cluster"
            })
        );
    }

    #[test]
    fn load_balancer_and_client_ip_affinity() {
        let service = defaulted(
            "Service",
            json!({
                "spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 53, "protocol": "UDP"}]},
                "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}, {"hostname": "lb.example.com"}]}}
            }),
        );
        let spec = &service["spec"];
        assert_eq!(
            spec["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["allocateLoadBalancerNodePorts"], true);
        assert_eq!(
            spec["ports"][0],
            json!({"port": 53, "protocol": "UDP", "targetPort": 53})
        );
        assert_eq!(
            service["status"]["loadBalancer"]["ingress"],
            json!([{"ip": "10.0.0.9", "ipMode": "VIP"}, {"hostname": "lb.example.com"}])
        );
        let external_name = defaulted(
            "Service",
            json!({"spec": {"type": "ExternalName", "externalName": "example.com"}}),
        );
        assert_eq!(external_name["spec"].get("internalTrafficPolicy"), None);
    }

    #[test]
    fn endpoints_ports_default_to_tcp() {
        let endpoints = defaulted("Endpoints", json!({"subsets": [{"ports": [{"port": 80}]}]}));
        assert_eq!(
            endpoints["subsets"][0]["ports"][0],
            json!({"port": 80, "protocol": "TCP"})
        );
    }
}
