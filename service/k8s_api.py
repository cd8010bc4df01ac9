"""The Kubernetes API client: in-cluster credentials on a pod, else the kubeconfig (tests, a laptop)."""

from __future__ import annotations


def api_client():
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()
