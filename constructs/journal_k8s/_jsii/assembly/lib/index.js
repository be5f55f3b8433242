"use strict";
// Each jsii call costs a round trip between Python and this Node process (about 0.5 ms),
// so the journal-k8s constructs hand over all of their API objects in one call, as JSON text
// of the generated Kubernetes L1 structs; the generated code turns them into manifests here.
const cdk8s = require("cdk8s");
const kplus = require("cdk8s-plus-27");

const k8s = kplus.k8s;
const STRUCT = "$jsii.struct";
const REF = "$jsii.ref";
const ENUM = "$jsii.enum";
const MANIFEST = "$manifest";
const UNIQUE_NAMES = Symbol.for("journal-k8s.uniqueNames");
const POD_KINDS = new Set(["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]);

class Manifests {
  /**
   * Defines, in one call, API objects under `scopes`. Each [scope index, id, value] of `objects`
   * (a JSON array) becomes one child of `scopes[index]`: a `k8s.Kube<Kind>Props` struct a plain
   * cdk8s ApiObject holding exactly the manifest that `k8s.Kube<Kind>.manifest` renders (so JSON
   * patches apply to the final manifest); a `cdk8s-plus-27.ServiceProps` struct a cdk8s-plus
   * Service, whose selector is the struct's `$selectLabels`; `{"$manifest": m}` an ApiObject of
   * the manifest m. A Namespace that enforces Pod Security "restricted" gets that check (see
   * `requireRestricted`). Then adds each [scope index, id, operation] of `patches` (an RFC 6902
   * "add" or "remove") to that ApiObject, and each [scope index, child id, message] of
   * `required` makes the synth fail with `message` while that child does not exist. Values
   * `{"$jsii.ref": i}` stand for `refs[i]` (Quantity and IntOrString objects),
   * `{"$jsii.enum": [fqn, member]}` for enum members. Returns the namespace of each scope's
   * chart, as a JSON array (null where none).
   */
  static define(scopes, objects, refs, patches, required) {
    requireUniqueNames(scopes[0]);
    for (const [index, id, value] of JSON.parse(objects)) {
      defineOne(scopes[index], id, value, refs);
    }
    for (const [index, id, operation] of JSON.parse(patches)) {
      const child = scopes[index].node.findChild(id);
      cdk8s.ApiObject.of(child).addJsonPatch(jsonPatch(revive(operation, refs)));
    }
    for (const [index, id, message] of JSON.parse(required)) {
      const scope = scopes[index];
      scope.node.addValidation({ validate: () => (scope.node.tryFindChild(id) ? [] : [message]) });
    }
    return Manifests.namespaces(scopes);
  }

  /** The namespace of each construct's closest chart, as a JSON array (null where none). */
  static namespaces(constructs) {
    return JSON.stringify(constructs.map((c) => cdk8s.Chart.of(c).namespace ?? null));
  }

  /**
   * What the journal constructs need of constructs they did not make (cdk8s-plus workloads,
   * Services and pod selectors), as a JSON array: each one's namespace, construct path, name,
   * container ports, and its pod selector (or, for a Service, its ports and selector).
   */
  static describe(constructs) {
    return JSON.stringify(constructs.map(describe));
  }

  /**
   * Adds a validation to `scope`: every pod template of an API object in `namespace` (any
   * chart of the app) must meet the Pod Security Standard "restricted"; each error names the
   * object, its construct path and the field.
   */
  static requireRestricted(scope, namespace) {
    scope.node.addValidation({
      validate() {
        return scope.node.root.node
          .findAll()
          .filter(
            (c) =>
              cdk8s.ApiObject.isApiObject(c) &&
              POD_KINDS.has(c.kind) &&
              c.metadata.namespace === namespace,
          )
          .flatMap((c) => {
            const manifest = c.toJson();
            const where = `${manifest.kind} ${JSON.stringify(manifest.metadata?.name)} (${c.node.path})`;
            const found = podSpecOf(manifest);
            return found === undefined
              ? []
              : restrictedProblems(found.spec).map(
                  (p) => `${where}: ${found.at}.${p} (Pod Security "restricted" in namespace ${JSON.stringify(namespace)}; journal_k8s.adopt_restricted fixes a cdk8s-plus workload)`,
                );
          });
      },
    });
  }

  /**
   * Every API object of the app of `scope` whose kind is one of `kinds` (every kind when
   * `kinds` is empty), as `[construct path, manifest]` pairs in one JSON text: each manifest as
   * `ApiObject.toJson()` renders it, after every JSON patch (what the library's checks over the
   * final manifests read; it runs no validation, so they may call it).
   */
  static objects(scope, kinds) {
    const wanted = new Set(kinds);
    return JSON.stringify(
      scope.node.root.node
        .findAll()
        .filter((c) => cdk8s.ApiObject.isApiObject(c) && (wanted.size === 0 || wanted.has(c.kind)))
        .map((c) => [c.node.path, c.toJson()]),
    );
  }

  /** The chart's manifests, exactly as `chart.toJson()` renders them, as one JSON text. */
  static render(chart) {
    return JSON.stringify(chart.toJson());
  }
}

function defineOne(scope, id, value, refs) {
  if (MANIFEST in value) {
    new cdk8s.ApiObject(scope, id, revive(value[MANIFEST], refs));
    return;
  }
  const { fqn, data } = value[STRUCT];
  if (fqn === "cdk8s-plus-27.ServiceProps") {
    const { $selectLabels: labels, ...props } = revive(data, refs);
    const service = new kplus.Service(scope, id, props);
    for (const [key, label] of Object.entries(labels)) {
      service.selectLabel(key, label);
    }
    return;
  }
  const kind = k8s[fqn.split(".").pop().replace(/Props$/, "")];
  if (kind === undefined || !fqn.startsWith("cdk8s-plus-27.k8s.Kube")) {
    throw new Error(`${fqn} is not the props struct of a Kubernetes object`);
  }
  const manifest = kind.manifest(revive(data, refs));
  new cdk8s.ApiObject(scope, id, manifest);
  const labels = manifest.kind === "Namespace" ? (manifest.metadata?.labels ?? {}) : {};
  if (labels["pod-security.kubernetes.io/enforce"] === "restricted") {
    Manifests.requireRestricted(scope, manifest.metadata.name);
  }
}

function podSpecOf(manifest) {
  switch (manifest.kind) {
    case "Pod":
      return { at: "spec", spec: manifest.spec ?? {} };
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "Job":
      return { at: "spec.template.spec", spec: manifest.spec?.template?.spec ?? {} };
    case "CronJob":
      return { at: "spec.jobTemplate.spec.template.spec", spec: manifest.spec?.jobTemplate?.spec?.template?.spec ?? {} };
    default:
      return undefined;
  }
}

/** What a pod spec lacks for the "restricted" profile, as "field: what it must be". */
function restrictedProblems(spec) {
  const problems = [];
  const pod = spec.securityContext ?? {};
  for (const host of ["hostNetwork", "hostPID", "hostIPC"]) {
    if (spec[host]) problems.push(`${host}: must be unset or false`);
  }
  for (const [i, volume] of (spec.volumes ?? []).entries()) {
    if (volume.hostPath) problems.push(`volumes[${i}].hostPath: must not be used`);
  }
  const seccompOk = (context) => ["RuntimeDefault", "Localhost"].includes(context?.seccompProfile?.type);
  const groups = [["containers", spec.containers ?? []], ["initContainers", spec.initContainers ?? []]];
  for (const [field, containers] of groups) {
    for (const [i, container] of containers.entries()) {
      const at = `${field}[${i}].securityContext`;
      const own = container.securityContext ?? {};
      if (own.privileged) problems.push(`${at}.privileged: must be unset or false`);
      if (own.allowPrivilegeEscalation !== false) problems.push(`${at}.allowPrivilegeEscalation: must be false`);
      if (!(own.capabilities?.drop ?? []).includes("ALL")) problems.push(`${at}.capabilities.drop: must include "ALL"`);
      const added = (own.capabilities?.add ?? []).filter((c) => c !== "NET_BIND_SERVICE");
      if (added.length) problems.push(`${at}.capabilities.add: only NET_BIND_SERVICE is allowed, not ${added.join(", ")}`);
      if (own.runAsNonRoot !== true && pod.runAsNonRoot !== true) problems.push(`${at}.runAsNonRoot: must be true (here or in the pod's securityContext)`);
      if ((own.runAsUser ?? pod.runAsUser) === 0) problems.push(`${at}.runAsUser: must not be 0`);
      if (!seccompOk(own) && !seccompOk(pod)) problems.push(`${at}.seccompProfile.type: must be RuntimeDefault or Localhost (here or in the pod's securityContext)`);
    }
  }
  return problems;
}

function describe(construct) {
  const found = {
    namespace: cdk8s.Chart.of(construct).namespace ?? null,
    path: construct.node.path,
    name: typeof construct.name === "string" ? construct.name : null,
    ports: (construct.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.number)),
  };
  if (construct instanceof kplus.Service) {
    const spec = cdk8s.ApiObject.of(construct).toJson().spec ?? {};
    found.service = { ports: spec.ports ?? [], selector: spec.selector ?? {} };
    return found;
  }
  let config;
  if (typeof construct.toPodSelectorConfig === "function") {
    config = construct.toPodSelectorConfig();
  } else if (typeof construct.toNetworkPolicyPeerConfig === "function") {
    config = construct.toNetworkPolicyPeerConfig().podSelector;
  }
  if (config !== undefined) {
    found.selector = config.labelSelector._toKube();
    found.namespaces = config.namespaces?.names ?? null;
    found.namespacesByLabel = !(config.namespaces?.labelSelector?.isEmpty() ?? true);
  }
  return found;
}

/** `value` with every struct marker rendered by the generated `toJson_*` and refs resolved. */
function revive(value, refs) {
  if (Array.isArray(value)) {
    return value.map((v) => revive(v, refs));
  }
  if (value === null || typeof value !== "object") {
    return value;
  }
  if (REF in value) {
    return refs[value[REF]];
  }
  if (ENUM in value) {
    const [fqn, member] = value[ENUM];
    const type = fqn.split(".").slice(1).reduce((module, name) => module?.[name], kplus);
    if (!fqn.startsWith("cdk8s-plus-27.") || type?.[member] === undefined) {
      throw new Error(`${fqn}.${member} is not a cdk8s-plus-27 enum member`);
    }
    return type[member];
  }
  if (STRUCT in value) {
    const { fqn, data } = value[STRUCT];
    const toJson = k8s[`toJson_${fqn.split(".").pop()}`];
    if (toJson === undefined || !fqn.startsWith("cdk8s-plus-27.k8s.")) {
      throw new Error(`${fqn} is not a generated Kubernetes struct`);
    }
    return toJson(revive(data, refs));
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v, refs)]));
}

function jsonPatch({ op, path, value }) {
  switch (op) {
    case "add":
      if (value === undefined) {
        throw new Error(`JSON patch "add" at ${JSON.stringify(path)} has no value`);
      }
      return cdk8s.JsonPatch.add(path, value);
    case "remove":
      return cdk8s.JsonPatch.remove(path);
    default:
      throw new Error(`JSON patch operation ${JSON.stringify(op)} is not supported: use add or remove`);
  }
}

/**
 * Adds, once per app, a validation that no two API objects share apiVersion, kind, namespace
 * and name (`kubectl apply` would merge them into one); it names both construct paths.
 */
function requireUniqueNames(scope) {
  const root = scope.node.root;
  if (root[UNIQUE_NAMES]) {
    return;
  }
  root[UNIQUE_NAMES] = true;
  root.node.addValidation({
    validate() {
      const seen = new Map();
      const errors = [];
      for (const construct of root.node.findAll()) {
        if (!cdk8s.ApiObject.isApiObject(construct)) {
          continue;
        }
        const namespace = construct.metadata.namespace ?? "";
        const key = [construct.apiVersion, construct.kind, namespace, construct.name].join(" ");
        const first = seen.get(key);
        if (first === undefined) {
          seen.set(key, construct.node.path);
        } else {
          const where = namespace ? `namespace ${JSON.stringify(namespace)}` : "no namespace";
          errors.push(
            `${construct.kind} ${JSON.stringify(construct.name)} (${construct.apiVersion}, ${where}) ` +
              `is defined twice, by ${first} and by ${construct.node.path}: give one of them ` +
              "another name (every journal construct takes its names as arguments)",
          );
        }
      }
      return errors;
    },
  });
}

exports.Manifests = Manifests;
