#!/usr/bin/env python3
"""Turn upstream CRD manifests into the small JSON Schemas `validate.sh` checks custom resources with.

Why vendored: the validation must run offline, and kubernetes-validate only knows built-in kinds.
Why trimmed: descriptions are dropped and a few huge subtrees we never set (RabbitmqCluster
`spec.override`; the CloudNativePG Cluster's backup, recovery, external clusters, volume templates
and status) are replaced by an open node of the same type, so the files stay reviewable. Setting
one of them later means taking it out of OPEN and vendoring again.
Why stricter than upstream: every object with declared properties gets `additionalProperties:
false` (unless the CRD preserves unknown fields), which mirrors the API server's strict field
validation, so a misspelt field fails here instead of being silently pruned in the cluster.

Usage: vendor.py OUT_DIR CRD.yaml...   (CRDs from the upstream repositories, see README.md)
"""

import json
import pathlib
import sys

import yaml

# Subtrees replaced by an open node: (kind, dotted path under the schema root).
OPEN = {
    ("RabbitmqCluster", "spec.override"),
    # CloudNativePG `Cluster` (postgresql.cnpg.io/v1): what deploy/kubernetes/postgres/ does not set.
    *(("Cluster", path) for path in (
        "status",
        "spec.backup",
        "spec.bootstrap.recovery",
        "spec.bootstrap.pg_basebackup",
        "spec.bootstrap.initdb.import",
        "spec.externalClusters",
        "spec.managed",
        "spec.projectedVolumeTemplate",
        "spec.ephemeralVolumeSource",
        "spec.tablespaces",
        "spec.storage.pvcTemplate",
        "spec.walStorage.pvcTemplate",
        "spec.affinity.additionalPodAffinity",
        "spec.affinity.additionalPodAntiAffinity",
        "spec.affinity.nodeAffinity",
    )),
}


def strict(node, kind, path=""):
    if isinstance(node, list):
        return [strict(item, kind, path) for item in node]
    if not isinstance(node, dict):
        return node
    if (kind, path.lstrip(".")) in OPEN:
        # Same type as upstream (an array stays an array), contents unchecked.
        if node.get("type", "object") == "object":
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        return {"type": node["type"]}
    out = {}
    for key, value in node.items():
        if key == "description":
            continue
        if key == "properties":
            out[key] = {name: strict(sub, kind, f"{path}.{name}") for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "allOf", "oneOf", "not"):
            out[key] = strict(value, kind, path)
        else:
            out[key] = value
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
        and path != ".metadata"
    ):
        out["additionalProperties"] = False
    return out


def main(out_dir, *crds):
    out = pathlib.Path(out_dir)
    for crd_path in crds:
        crd = yaml.safe_load(pathlib.Path(crd_path).read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served"):
                continue
            schema = strict(version["schema"]["openAPIV3Schema"], kind)
            # apiVersion/kind/metadata are checked by the API server, not by the CRD schema.
            schema.setdefault("properties", {}).update(
                {"apiVersion": {"const": f"{group}/{version['name']}"}, "kind": {"const": kind}}
            )
            name = f"{kind.lower()}-{group}-{version['name']}.json"
            (out / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
            print(f"wrote {name}")


if __name__ == "__main__":
    main(*sys.argv[1:])
