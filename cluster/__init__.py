"""Running on Ray, from a laptop to a cluster (docs/cluster.md).

``ray_runtime`` starts or joins Ray; ``runtime_env`` ships the checkout with a job; ``submit`` is
``tbt submit`` (the Ray Jobs API); ``launcher/`` and ``kuberay/`` hold the cluster-launcher config and the
KubeRay manifests, which ``launcher_checks`` and ``kuberay_checks`` check before anything is launched.
"""
