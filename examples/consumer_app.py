"""Another team's cdk8s app: its own workloads in cdk8s-plus-27, the journal from journal_k8s."""

import cdk8s
import cdk8s_plus_27 as kplus
from cdk8s_plus_27 import k8s

from journal_k8s import (
    Autoscaling,
    JournalService,
    PathRoute,
    PodOptions,
    Quota,
    Resources,
    RestrictedNamespace,
    adopt_restricted,
)

app = cdk8s.App()

# Two journals side by side in one namespace: names never collide.
shop = cdk8s.Chart(app, "shop", namespace="shop", disable_resource_name_hashes=True)
RestrictedNamespace(
    shop, "Namespace", name="shop", quota=Quota(cpu="40", memory="64Gi", storage="200Gi", pods=40)
)
blue = JournalService(
    shop,
    "Blue",
    name="blue",
    host="blue.example.com",
    frontend_resources=Resources(cpu="500m", memory="512Mi", cpu_limit="1", memory_limit="1Gi"),
    frontend_pod=PodOptions(
        env=[
            k8s.EnvVar(name="LOG_LEVEL", value="debug"),
            k8s.EnvVar(
                name="FEATURE_FLAGS",
                value_from=k8s.EnvVarSource(
                    config_map_key_ref=k8s.ConfigMapKeySelector(name="flags", key="journal")
                ),
            ),
        ],
        tolerations=[
            k8s.Toleration(key="dedicated", operator="Equal", value="web", effect="NoSchedule")
        ],
        node_selector={"kubernetes.io/arch": "amd64"},
        annotations={"prometheus.io/scrape": "true"},
    ),
    # 2 to 6 API pods on CPU use; the quota above must hold 6 + the rollout's surge pod.
    frontend_autoscaling=Autoscaling(min_replicas=2, max_replicas=6, cpu_utilization=60),
)
green = JournalService(shop, "Green", name="green", host="green.example.com")
# The escape hatch, for what no argument covers: each object's ApiObject takes JSON patches.
blue.redis.stateful_set.add_json_patch(cdk8s.JsonPatch.add("/spec/minReadySeconds", 10))

# A team's own kplus workload, made restricted in one call, routed under /admin of blue.
admin = kplus.Deployment(
    shop,
    "Admin",
    metadata=cdk8s.ApiObjectMetadata(name="admin"),
    containers=[
        kplus.ContainerProps(
            image="team/admin:1.4",
            port_number=8080,
            security_context=kplus.ContainerSecurityContextProps(user=10001, group=10001),
        )
    ],
)
adopt_restricted(admin, uid=10001)
admin_service = admin.expose_via_service(
    name="admin", ports=[kplus.ServicePort(port=80, target_port=8080)]
)
assert blue.ingress is not None
blue.ingress.route("/admin", admin_service)

# kplus's own HorizontalPodAutoscaler scales green's static site, as it scales a kplus
# Deployment: the tiers are kplus.IScalable (its Deployment then has no spec.replicas).
kplus.HorizontalPodAutoscaler(
    shop,
    "GreenStatic",
    metadata=cdk8s.ApiObjectMetadata(name="green-fileserver"),
    target=green.static_site,
    min_replicas=2,
    max_replicas=4,
    metrics=[kplus.Metric.resource_cpu(kplus.MetricTarget.average_utilization(75))],
)

# kplus's own Ingress reaches the journal's Services.
kplus.Ingress(
    shop,
    "Internal",
    metadata=cdk8s.ApiObjectMetadata(name="internal"),
    rules=[
        kplus.IngressRule(
            host="journal.internal",
            path="/api",
            backend=kplus.IngressBackend.from_service(green.api.service),
        )
    ],
)

# A worker in another namespace uses blue's Redis: hosts, port and password file, policies.
jobs = cdk8s.Chart(app, "jobs", namespace="jobs", disable_resource_name_hashes=True)
worker = kplus.Deployment(
    jobs,
    "Worker",
    metadata=cdk8s.ApiObjectMetadata(name="worker"),
    containers=[kplus.ContainerProps(image="team/worker:2.0", name="worker")],
)
blue.redis.connect(worker, worker.containers[0], cluster_domain="cluster.local")
# ... and reaches green's API the kplus way.
worker.connections.allow_to(green.api)

# A third journal behind the platform's shared Gateway (Gateway API) instead of an Ingress.
docs = cdk8s.Chart(app, "docs", namespace="docs", disable_resource_name_hashes=True)
route = PathRoute(
    docs,
    "Route",
    gateway_name="shared-gateway",
    gateway_namespace="gateway-system",
    section_name="https",
    hostnames=["docs.example.com"],
)
JournalService(docs, "Journal", edge=route)  # /api and / become rules of the HTTPRoute

app.synth()  # dist/shop.k8s.yaml, dist/jobs.k8s.yaml, dist/docs.k8s.yaml
