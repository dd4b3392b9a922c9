#!/usr/bin/env python3
"""Checks of the deploy files that no off-the-shelf tool makes, run by deploy/validate.sh.

Each subcommand prints its failures and a count of passed checks (every check with VERBOSE=1)
and exits 1 on any failure:
  rules-sync ALERTS PROMETHEUSRULE [--fix]  the PrometheusRule is alerts.yml, wrapped
  crds SCHEMA_DIR RENDERED...               custom resources against the vendored CRD schemas
  fleet README SECRETS_EXAMPLE RENDERED...  the manifests agree with README and each other
  dashboard DASHBOARD OUT_RULES             dashboard JSON; its queries as rules for promtool
  metrics README ALERTS DASHBOARD           every metric queried is one the binaries export
  properties TOML...                        per-property files the worker would accept

README.md is the documentation of record for variables and metrics: these checks read it, so a
renamed variable or metric fails here instead of silently in production.
"""

import json
import os
import pathlib
import re
import sys
import tomllib

import yaml

FAILURES = []
PASSED = []
VERBOSE = os.environ.get("VERBOSE") == "1"


def ok(msg):
    PASSED.append(msg)
    if VERBOSE:
        print(f"  ok   {msg}")


def fail(msg):
    FAILURES.append(msg)
    print(f"  FAIL {msg}")


def check(cond, msg):
    (ok if cond else fail)(msg)
    return cond


def load_all(paths):
    docs = []
    for path in paths:
        for doc in yaml.safe_load_all(pathlib.Path(path).read_text()):
            if doc:
                docs.append((pathlib.Path(path).stem, doc))
    return docs


# === rules-sync ===

RULE_HEADER = """\
# GENERATED from deploy/prometheus/alerts.yml by `deploy/validate.sh --fix`: do not edit.
# alerts.yml is the single source of truth (promtool-tested by alerts_test.yml); this wraps it
# for the Prometheus Operator. validate.sh fails when the two differ.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: fleet
  labels:
    app.kubernetes.io/name: fleet-alerts
spec:
"""


def rules_sync(alerts, rule, *flags):
    text = pathlib.Path(alerts).read_text()
    body = text[text.index("groups:"):]
    wanted = RULE_HEADER + "".join(
        ("  " + line if line.strip() else line) for line in body.splitlines(keepends=True)
    )
    assert yaml.safe_load(wanted)["spec"] == yaml.safe_load(text), "wrapping changed the rules"
    path = pathlib.Path(rule)
    if "--fix" in flags:
        path.write_text(wanted)
        ok(f"wrote {rule} from {alerts}")
    else:
        check(path.exists() and path.read_text() == wanted,
              f"{rule} is generated from {alerts} (run deploy/validate.sh --fix after editing alerts.yml)")


# === crds ===

BUILT_IN_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io",
                   "rbac.authorization.k8s.io"}


def crds(schema_dir, *rendered):
    import jsonschema

    schemas = {p.stem: json.loads(p.read_text()) for p in pathlib.Path(schema_dir).glob("*.json")}
    for source, doc in load_all(rendered):
        group, _, version = doc["apiVersion"].rpartition("/")
        if group in BUILT_IN_GROUPS:
            continue
        name = f"{source}: {doc['kind']}/{doc['metadata']['name']}"
        schema = schemas.get(f"{doc['kind'].lower()}-{group}-{version}")
        if not check(schema is not None, f"{name}: schema for {doc['apiVersion']} is vendored"):
            continue
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
        for error in errors:
            fail(f"{name}: {'.'.join(map(str, error.path)) or '<root>'}: {error.message}")
        if not errors:
            ok(f"{name} matches its CRD schema")


# === fleet ===

KEDA_RABBITMQ_KEYS = {"protocol", "host", "hostFromEnv", "vhostName", "queueName", "mode", "value",
                      "activationValue", "useRegex", "excludeUnacknowledged", "pageSize",
                      "operation", "timeout", "unsafeSsl"}
KEDA_MODES = {"QueueLength", "MessageRate", "DeliverGetRate", "PublishedToDeliveredRatio",
              "ExpectedQueueConsumptionTime"}
# Deployment-only helpers AMQP_URL is composed from; the binaries never read them.
HELPER_VARS = {"RABBITMQ_USERNAME", "RABBITMQ_PASSWORD"}


def readme_variables(readme):
    """{variable: (used_by, default)} from README's "## Configuration" table."""
    text = pathlib.Path(readme).read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].startswith("`"):
            for var in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]):
                out[var] = (cells[1], cells[2])
    return out


def by_kind(docs, kind):
    return {d["metadata"]["name"]: d for _, d in docs if d["kind"] == kind}


def fleet(readme, secrets_example, *rendered):
    variables = readme_variables(readme)
    check(len(variables) > 40, f"README configuration table parsed ({len(variables)} variables)")
    example = by_kind(load_all([secrets_example]), "Secret")
    for path in rendered:
        print(f"  -- {pathlib.Path(path).name}")
        fleet_overlay(load_all([path]), variables, example)


def fleet_overlay(docs, variables, example):
    deployments = by_kind(docs, "Deployment")
    configmaps = by_kind(docs, "ConfigMap")
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    scaled = by_kind(docs, "ScaledObject")
    auths = by_kind(docs, "TriggerAuthentication")

    generated = cnpg_generated_secrets(docs)

    def secret_key_documented(secret, key, what):
        if secret in generated:
            cluster, keys = generated[secret]
            check(key in keys, f"{what}: secret {secret}/{key} is one the CloudNativePG Cluster {cluster} generates")
            return
        check(key in example.get(secret, {}).get("stringData", {}),
              f"{what}: secret {secret}/{key} is in base/secrets.example.yaml")

    # Autoscaled Deployments must not carry replicas, and each has exactly one scaler.
    targets = [h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()]
    targets += [s["spec"]["scaleTargetRef"]["name"] for s in scaled.values()]
    check(sorted(targets) == sorted(deployments), f"ingest and worker each have exactly one autoscaler ({targets})")
    for name, dep in deployments.items():
        check("replicas" not in dep["spec"], f"{name}: no spec.replicas (the autoscaler owns it)")

    for name, so in scaled.items():
        for trigger in so["spec"]["triggers"]:
            md, q = trigger["metadata"], trigger["metadata"].get("queueName")
            what = f"ScaledObject {name} trigger {q}"
            check(trigger["type"] == "rabbitmq", f"{what}: type rabbitmq")
            check(set(md) <= KEDA_RABBITMQ_KEYS, f"{what}: metadata keys known to KEDA ({sorted(set(md) - KEDA_RABBITMQ_KEYS) or 'all'})")
            check(md.get("mode") == "QueueLength" and md.get("protocol") == "http", f"{what}: mode QueueLength over protocol http")
            check(q in ("screenings", "reports"), f"{what}: a work queue, never .dead or .retry")
            check(re.fullmatch(r"\d+(\.\d+)?", md.get("value", "")) is not None, f"{what}: value is a numeric string")
            ns = so["metadata"].get("namespace", "")
            check(ns and f".{ns}.svc" in md.get("host", ""), f"{what}: host names the namespace ({md.get('host')})")
            auth = trigger.get("authenticationRef", {}).get("name")
            check(auth in auths, f"{what}: TriggerAuthentication {auth} exists")
    for name, auth in auths.items():
        for ref in auth["spec"].get("secretTargetRef", []):
            secret_key_documented(ref["name"], ref["key"], f"TriggerAuthentication {name}")
    for user in by_kind(docs, "User").values():
        secret = user["spec"]["importCredentialsSecret"]["name"]
        for key in ("username", "password"):
            secret_key_documented(secret, key, f"RabbitMQ user {user['metadata']['name']}")

    for name, dep in deployments.items():
        pod = dep["spec"]["template"]["spec"]
        for c in pod["containers"]:
            fleet_container(name, pod, c, configmaps, variables, secret_key_documented)

    # The worker's other runs (sweep CronJob, migrate Job): same rules for variables, secrets and
    # security, and the same ledger as the worker.
    batch = {name: cj["spec"]["jobTemplate"]["spec"]["template"]["spec"] for name, cj in by_kind(docs, "CronJob").items()}
    batch |= {name: job["spec"]["template"]["spec"] for name, job in by_kind(docs, "Job").items()}
    for name, pod in batch.items():
        for c in pod["containers"]:
            fleet_batch_container(name, pod, c, configmaps, variables, secret_key_documented)
    worker_pods = {name: d["spec"]["template"]["spec"] for name, d in deployments.items()} | batch
    database_urls = {}
    for name, pod in worker_pods.items():
        for c in pod["containers"]:
            if pathlib.Path(c["command"][0]).name == "worker":
                ref = next((e.get("valueFrom", {}).get("secretKeyRef") for e in c.get("env", [])
                            if e["name"] == "DATABASE_URL"), None)
                database_urls[f"{name}/{c['name']}"] = f"{ref['name']}/{ref['key']}" if ref else None
    if database_urls:
        check(len(set(database_urls.values())) == 1 and None not in database_urls.values(),
              f"every worker run reads DATABASE_URL from one secret key ({database_urls})")

    fleet_postgres(docs, configmaps, scaled)

    # The delivery limit: queue argument (AMQP_DELIVERY_LIMIT) and policy must agree.
    limits = {cm["data"]["AMQP_DELIVERY_LIMIT"] for cm in configmaps.values() if "AMQP_DELIVERY_LIMIT" in cm.get("data", {})}
    policy = by_kind(docs, "Policy").get("fleet-work-queues")
    if policy:
        check(limits == {str(policy["spec"]["definition"]["delivery-limit"])},
              f"AMQP_DELIVERY_LIMIT {limits} equals the fleet-work-queues policy's delivery-limit")
    for name, rmq in by_kind(docs, "RabbitmqCluster").items():
        check(rmq["spec"].get("replicas", 1) % 2 == 1, f"RabbitmqCluster {name}: odd number of nodes")

    # Monitors must point at ports that exist.
    svc_ports = {p["name"] for s in by_kind(docs, "Service").values() for p in s["spec"]["ports"]}
    for name, sm in by_kind(docs, "ServiceMonitor").items():
        for ep in sm["spec"]["endpoints"]:
            check(ep["port"] in svc_ports, f"ServiceMonitor {name}: Service port {ep['port']} exists")
    pod_ports = {p["name"] for d in deployments.values() for c in d["spec"]["template"]["spec"]["containers"]
                 for p in c.get("ports", [])} | {"prometheus", "metrics"}
    # The operators name RabbitMQ's 15692 `prometheus` and CloudNativePG's exporter (9187) `metrics`.
    for name, pm in by_kind(docs, "PodMonitor").items():
        for ep in pm["spec"]["podMetricsEndpoints"]:
            check(ep["port"] in pod_ports, f"PodMonitor {name}: pod port {ep['port']} exists")

    # Not failures: the repository cannot know each environment's hosts, registry or properties.
    placeholders = [f"{d['kind']}/{d['metadata']['name']}" for _, d in docs
                    if re.search(r"REPLACE|example\.(com|invalid)", yaml.safe_dump(d))]
    if placeholders:
        print(f"  note placeholders (REPLACE, example.com) still to fill in: {', '.join(placeholders)}")


def fleet_container(dep, pod, c, configmaps, variables, secret_key_documented):
    what = f"{dep}/{c['name']}"
    binary = pathlib.Path(c["command"][0]).name
    env = {}
    for ref in c.get("envFrom", []):
        cm = configmaps.get(ref.get("configMapRef", {}).get("name"))
        if check(cm is not None, f"{what}: envFrom ConfigMap {ref.get('configMapRef', {}).get('name')} exists"):
            env.update(cm.get("data", {}))
    for e in c.get("env", []):
        env[e["name"]] = e.get("value", "<from secret>")
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            secret_key_documented(ref["name"], ref["key"], f"{what} {e['name']}")

    for var in sorted(set(env) - HELPER_VARS):
        used_by = variables.get(var, ("",))[0]
        check(used_by in ("both", binary), f"{what}: {var} is a README variable of {binary} ({used_by or 'not in README'})")
    for var, (used_by, default) in sorted(variables.items()):
        if used_by in ("both", binary) and default == "required":
            check(var in env, f"{what}: required {var} is set")

    admin_port = int(env.get("ADMIN_LISTEN", "0.0.0.0:9090").rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    for probe, path in (("startupProbe", "/livez"), ("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        get = c.get(probe, {}).get("httpGet", {})
        check(get.get("path") == path and ports.get(get.get("port")) == admin_port,
              f"{what}: {probe} is GET {path} on the admin port {admin_port}")
    if binary == "ingest":
        listen = int(env.get("INGEST_LISTEN", "0.0.0.0:8080").rsplit(":", 1)[1])
        check(ports.get("http") == listen, f"{what}: port http is INGEST_LISTEN ({listen})")

    pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    if binary == "ingest":
        check(pre_stop > 0, f"{what}: preStop sleep lets endpoints update before the listener closes")
    grace = int(env.get("SHUTDOWN_GRACE_SECONDS", "20"))
    tgps = pod.get("terminationGracePeriodSeconds", 30)
    check(tgps > pre_stop + grace, f"{what}: terminationGracePeriodSeconds {tgps} > preStop {pre_stop} + SHUTDOWN_GRACE_SECONDS {grace}")

    sc, psc = c.get("securityContext", {}), pod.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 65532, f"{what}: runs as numeric non-root 65532 (as the Dockerfile)")
    check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
          and sc.get("capabilities", {}).get("drop") == ["ALL"], f"{what}: read-only root, no privilege escalation, no capabilities")
    check("cpu" in c.get("resources", {}).get("requests", {}) and "memory" in c.get("resources", {}).get("limits", {}),
          f"{what}: CPU request (the HPA's base) and memory limit set")

    if "PROPERTIES_FILE" in env:
        path = pathlib.PurePosixPath(env["PROPERTIES_FILE"])
        mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
        found = None
        for vol in pod.get("volumes", []):
            if vol["name"] in mounts and pathlib.PurePosixPath(mounts[vol["name"]]) == path.parent and "configMap" in vol:
                found = configmaps.get(vol["configMap"]["name"], {}).get("data", {}).get(path.name)
        if check(found is not None, f"{what}: PROPERTIES_FILE {path} is mounted from a ConfigMap"):
            properties_text(found, f"{what}: {path}")


def fleet_batch_container(name, pod, c, configmaps, variables, secret_key_documented):
    """A CronJob's or Job's container running one of the binaries: variables, secrets, security."""
    what = f"{name}/{c['name']}"
    binary = pathlib.Path(c["command"][0]).name
    env = {}
    for ref in c.get("envFrom", []):
        cm = configmaps.get(ref.get("configMapRef", {}).get("name"))
        if check(cm is not None, f"{what}: envFrom ConfigMap {ref.get('configMapRef', {}).get('name')} exists"):
            env.update(cm.get("data", {}))
    for e in c.get("env", []):
        env[e["name"]] = e.get("value", "<from secret>")
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            secret_key_documented(ref["name"], ref["key"], f"{what} {e['name']}")
    for var in sorted(set(env) - HELPER_VARS):
        used_by = variables.get(var, ("",))[0]
        check(used_by in ("both", binary), f"{what}: {var} is a README variable of {binary} ({used_by or 'not in README'})")
    check(pod.get("restartPolicy") in ("Never", "OnFailure"), f"{what}: restartPolicy Never or OnFailure")
    sc, psc = c.get("securityContext", {}), pod.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 65532, f"{what}: runs as numeric non-root 65532 (as the Dockerfile)")
    check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
          and sc.get("capabilities", {}).get("drop") == ["ALL"], f"{what}: read-only root, no privilege escalation, no capabilities")
    check("cpu" in c.get("resources", {}).get("requests", {}) and "memory" in c.get("resources", {}).get("limits", {}),
          f"{what}: CPU request and memory limit set")


# Keys of the secret CloudNativePG creates for the owner of bootstrap.initdb's database
# (pkg/specs/secrets.go, CreateSecret).
CNPG_APP_SECRET_KEYS = {"username", "user", "password", "dbname", "host", "port", "pgpass",
                        "uri", "jdbc-uri", "fqdn-uri", "fqdn-jdbc-uri"}
# PostgreSQL's own default, which CloudNativePG keeps.
POSTGRES_DEFAULT_MAX_CONNECTIONS = 100
# superuser_reserved_connections (3) and the operator's own sessions, with room to spare.
POSTGRES_RESERVED_CONNECTIONS = 10


def cnpg_clusters(docs):
    return {d["metadata"]["name"]: d for _, d in docs
            if d["kind"] == "Cluster" and d["apiVersion"].startswith("postgresql.cnpg.io/")}


def cnpg_generated_secrets(docs):
    """{secret: (cluster, keys)} for the `<cluster>-app` secrets the operator generates."""
    out = {}
    for name, cluster in cnpg_clusters(docs).items():
        initdb = cluster["spec"].get("bootstrap", {}).get("initdb")
        if initdb is not None and "secret" not in initdb:
            out[f"{name}-app"] = (name, CNPG_APP_SECRET_KEYS)
    return out


def fleet_postgres(docs, configmaps, scaled):
    """The ledger's CloudNativePG Cluster, if the overlay runs one."""
    pool = max([int(cm["data"]["LEDGER_POOL_SIZE"]) for cm in configmaps.values()
                if "LEDGER_POOL_SIZE" in cm.get("data", {})] or [16])
    workers = max([so["spec"].get("maxReplicaCount", 100) for so in scaled.values()] or [0])
    for name, cluster in cnpg_clusters(docs).items():
        spec = cluster["spec"]
        what = f"Cluster {name}"
        instances = spec.get("instances", 1)
        initdb = spec.get("bootstrap", {}).get("initdb", {})
        check(initdb.get("database") and initdb.get("owner"), f"{what}: bootstrap.initdb names the database and its owner")
        sync = spec.get("postgresql", {}).get("synchronous")
        if sync:
            check(sync["number"] < instances, f"{what}: fewer synchronous standbys ({sync['number']}) than instances ({instances}), or no commit could complete")
        if instances == 1:
            check(spec.get("enablePDB") is False, f"{what}: a single instance has no PodDisruptionBudget (it would block every node drain)")
        max_conn = int(spec.get("postgresql", {}).get("parameters", {}).get("max_connections", POSTGRES_DEFAULT_MAX_CONNECTIONS))
        # Every worker replica, a sweep and a migration, each with its own pools: LEDGER_POOL_SIZE
        # connections, and half as many again for the journal and delivery-run rows.
        per_process = pool + (pool + 1) // 2
        needed = (workers + 2) * per_process + POSTGRES_RESERVED_CONNECTIONS
        check(max_conn >= needed,
              f"{what}: max_connections {max_conn} >= (maxReplicaCount {workers} + sweep + migrate) x 1.5 LEDGER_POOL_SIZE {per_process} + {POSTGRES_RESERVED_CONNECTIONS} reserved = {needed}")


# === properties ===

PROPERTY_KEYS = {"decision_maker_display_name", "is_decision_maker_paying", "income_multiplier_threshold",
                 "invite_customer_types", "document_file_type", "enabled", "payscore_api",
                 "verifications", "property_name"}
VERIFICATIONS = {"income", "identity", "asset"}


def properties_text(text, what):
    """The worker's own start-up rules (README: Per-property settings)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        return fail(f"{what}: not TOML: {e}")
    defaults, props = doc.get("defaults", {}), doc.get("properties", {})
    check(set(doc) <= {"defaults", "properties"}, f"{what}: only [defaults] and [properties.*] tables")
    check(set(defaults) <= PROPERTY_KEYS, f"{what}: [defaults] keys known")
    for pid, table in props.items():
        check(set(table) <= PROPERTY_KEYS, f"{what}: property {pid} keys known")
        name = table.get("decision_maker_display_name", defaults.get("decision_maker_display_name", ""))
        check(name.strip() != "", f"{what}: property {pid} has a decision_maker_display_name")
        api = str(table.get("payscore_api", defaults.get("payscore_api", "v1"))).strip().lower()
        check(api in {"v1", "v2"}, f"{what}: property {pid} payscore_api is v1 or v2")
        wanted = table.get("verifications", defaults.get("verifications", ["income"]))
        names = {str(v).strip().lower() for v in wanted}
        check(bool(names) and names <= VERIFICATIONS,
              f"{what}: property {pid} verifications are among income, identity, asset")
        check(api == "v2" or names == {"income"},
              f"{what}: property {pid} asks for identity or asset only on payscore_api = \"v2\"")
    ok(f"{what}: {len(props)} propert{'y' if len(props) == 1 else 'ies'} listed")


def properties(*paths):
    for p in paths:
        properties_text(pathlib.Path(p).read_text(), p)


# === dashboard ===

def dashboard(path, out_rules):
    try:
        dash = json.loads(pathlib.Path(path).read_text())
    except json.JSONDecodeError as e:
        return fail(f"{path}: valid JSON ({e})")
    ok(f"{path}: valid JSON")
    check(dash.get("uid") and dash.get("title") and dash.get("id") is None, "dashboard has a fixed uid and title and no id")
    names = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    check({"datasource", "namespace"} <= names, f"dashboard variables datasource and namespace ({sorted(names)})")
    panels = [p for p in dash["panels"]]
    ids = [p["id"] for p in panels]
    check(len(ids) == len(set(ids)), f"{len(panels)} panels with unique ids")
    exprs = []
    for p in panels:
        if p["type"] == "row":
            continue
        check(p.get("datasource", {}).get("uid") == "${datasource}", f"panel '{p['title']}' uses the datasource variable")
        for t in p.get("targets", []):
            exprs.append((p["title"], t["expr"]))
    # promtool parses rule expressions: Grafana's variables become plain values first.
    rules = []
    for i, (title, expr) in enumerate(exprs):
        e = re.sub(r"\$\{?__(rate_interval|interval|range)\}?", "5m", expr)
        e = re.sub(r"\$\{?(\w+)\}?", "x", e)
        rules.append({"record": f"dashboard:expr_{i}", "expr": e})
    pathlib.Path(out_rules).write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    ok(f"{len(exprs)} panel queries written as rules for promtool")


# === metrics ===

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "offset", "inf", "nan", "x"}


def metric_names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)                    # string literals
    e = re.sub(r"\{[^}]*\}", "", e)                                   # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                                  # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    names = set(re.findall(r"\b([a-zA-Z_:][\w:]*)\b(?!\s*\()", e)) - KEYWORDS
    # A selector written only as {__name__=~"..."}: take the alternatives of the regex.
    for m in re.finditer(r'__name__\s*=~?\s*"([^"]+)"', expr):
        inner = re.fullmatch(r"(\w+)\(([\w|]+)\)", m.group(1))
        names |= {inner.group(1) + alt for alt in inner.group(2).split("|")} if inner else {m.group(1)}
    return names


def metrics(readme, alerts, dash):
    text = pathlib.Path(readme).read_text()
    section = text.split("## Probes and metrics", 1)[1].split("\n## ", 1)[0]
    exported = set()
    for line in section.splitlines():
        m = re.match(r"\|\s*`(\w+)`\s*\|\s*(\w+)", line)
        if m:
            name, kind = m.groups()
            exported |= {name} | ({f"{name}_bucket", f"{name}_sum", f"{name}_count"} if kind == "histogram" else set())
    check(len(exported) > 10, f"README metrics table parsed ({len([n for n in exported if not n.endswith(('_bucket', '_sum', '_count'))])} metrics)")
    exprs = [(f"alert {r['alert']}", r["expr"]) for g in yaml.safe_load(pathlib.Path(alerts).read_text())["groups"] for r in g["rules"]]
    exprs += [(f"panel '{p['title']}'", t["expr"]) for p in json.loads(pathlib.Path(dash).read_text())["panels"]
              for t in p.get("targets", [])]
    # RabbitMQ's and Prometheus' own series are not the fleet's to document.
    for what, expr in exprs:
        unknown = {n for n in metric_names(expr) if n not in exported and n != "up" and not n.startswith("rabbitmq_")}
        if unknown:
            fail(f"{what}: queries metrics the binaries do not export: {sorted(unknown)}")
    ok(f"{len(exprs)} alert and panel queries use only metrics from README (or rabbitmq_*, up)")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    globals()[command.replace("-", "_")](*args)
    # Not "N passed, N failed": CI reads that shape as a test runner's closing line.
    print(f"  {len(PASSED)} checks ok" + (f", {len(FAILURES)} FAILING" if FAILURES else ""))
    sys.exit(1 if FAILURES else 0)
