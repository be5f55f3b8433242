// Each jsii call costs a round trip between Python and this Node process (about 0.5 ms),
// so the journal-k8s constructs hand over all of their API objects in one call, as JSON text
// of the generated Kubernetes L1 structs; the generated code turns them into manifests here.
import * as cdk8s from "cdk8s";
import { IConstruct } from "constructs";

// cdk8s-plus's package, the one dependency of package.json besides cdk8s and constructs.
const KPLUS: string = Object.keys(require("../package.json").peerDependencies).find((name) =>
  name.startsWith("cdk8s-plus-"),
)!;
const kplus = require(KPLUS);

const k8s = kplus.k8s;
const STRUCT = "$jsii.struct";
const REF = "$jsii.ref";
const ENUM = "$jsii.enum";
const MANIFEST = "$manifest";
const LAZY = "$lazy";
const VALIDATED = Symbol.for("journal-k8s.validated");
const OWN = Symbol.for("journal-k8s.own");
let rules: IRules;
/**
 * The API objects that return the manifest a validation sent to Python while `render` runs,
 * and the index of each such manifest in what was sent.
 */
interface Sent {
  objects: IConstruct[];
  indexes: Map<any, number>;
}
let sent: Sent | undefined;

/** What the library's Python side does at synth (see `Manifests.useRules`). */
export interface IRules {
  /**
   * The problems of an app, as a JSON array of [construct path, or null, message]. `objects` is
   * every API object of the app, as a JSON array of [construct path, manifest (after every JSON
   * patch), whether a journal construct made it].
   */
  validate(objects: string): string;

  /** The value of `{"$lazy": key}`. */
  render(key: number): any;
}

/** The library's transport: its methods move data between Python and Node and decide nothing. */
export class Manifests {
  /**
   * Defines, in one call, API objects under `scopes`. Each [scope index, id, value] of `objects`
   * (a JSON array) becomes one child of `scopes[index]`: a `k8s.Kube<Kind>Props` struct a
   * `k8s.Kube<Kind>` holding exactly the manifest that `k8s.Kube<Kind>.manifest` renders (so JSON
   * patches apply to the final manifest, see `rendered`); a `<cdk8s-plus>.ServiceProps` struct a cdk8s-plus
   * Service, whose selector is the struct's `$selectLabels`; `{"$manifest": m}` an ApiObject of
   * the manifest m, an instance of the L1 or CRD class of jsii type `class` when given. Then adds each [scope index, id, operation] of `patches` (an RFC 6902
   * "add" or "remove") to that ApiObject. Values
   * `{"$jsii.ref": i}` stand for `refs[i]` (Quantity and IntOrString objects),
   * `{"$jsii.enum": [fqn, member]}` for enum members, `{"$lazy": key}` for a value made at
   * synth by the library's Python side (`useRules`). The first call for an app adds the
   * validation of `useRules` to its root. Returns the namespace of each scope's chart, as a
   * JSON array (null where none).
   */
  public static define(scopes: IConstruct[], objects: string, refs: any[], patches: string): string {
    const root: any = scopes[0].node.root;
    if (!root[VALIDATED]) {
      root[VALIDATED] = true;
      root.node.addValidation({ validate: () => validate(root) });
    }
    for (const [index, id, value] of JSON.parse(objects)) {
      defineOne(scopes[index], id, value, refs);
    }
    for (const [index, id, operation] of JSON.parse(patches)) {
      const child = scopes[index].node.findChild(id);
      cdk8s.ApiObject.of(child).addJsonPatch(jsonPatch(revive(operation, refs)));
    }
    return Manifests.namespaces(scopes);
  }

  /**
   * Hands over the library's Python side: `python.validate` becomes a validation of every
   * app's root (added by the first `define` in the app; problems with a construct path are
   * reported by cdk8s under that path), and `python.render(key)` produces each
   * `{"$lazy": key}` value at synth.
   */
  public static useRules(python: IRules): void {
    rules = python;
  }

  /** The namespace of each construct's closest chart, as a JSON array (null where none). */
  public static namespaces(constructs: IConstruct[]): string {
    return JSON.stringify(constructs.map((c) => cdk8s.Chart.of(c).namespace ?? null));
  }

  /**
   * What the journal constructs need of constructs they did not make (cdk8s-plus workloads,
   * Services and pod selectors), as a JSON array: each one's namespace, construct path, name,
   * container ports, and its pod selector (or, for a Service, its ports and selector).
   */
  public static describe(constructs: IConstruct[]): string {
    return JSON.stringify(constructs.map(describe));
  }

  /**
   * The chart's manifests, exactly as `chart.toJson()` renders them, as one JSON array; where
   * the library's validation of this synth already sent an object's manifest to Python (see
   * `IRules.validate`), its index there stands for it.
   */
  public static render(chart: cdk8s.Chart): string {
    const read: Sent = { objects: [], indexes: new Map() };
    sent = read;
    try {
      return JSON.stringify(chart.toJson().map((m: any) => read.indexes.get(m) ?? m));
    } finally {
      for (const object of read.objects) {
        delete (object as any).toJson;
      }
      sent = undefined;
    }
  }

  private constructor() {}
}

/**
 * The library's validation of the app of `root`: its Python rules over the final manifests.
 * While `render` runs, each object then returns the manifest it sent until `render` ends (the
 * app does not change while cdk8s validates and renders it): each manifest is rendered once.
 * An object whose `toJson` is its own (a subclass's override from another language, which
 * jsii defines on the instance, for good) is rendered again by `render`.
 */
function validate(root: IConstruct): string[] {
  const objects: any[] = root.node.findAll().filter((c) => cdk8s.ApiObject.isApiObject(c));
  const manifests = objects.map((c) => c.toJson());
  if (sent !== undefined) {
    const read = sent;
    objects.forEach((object, index) => {
      if (Object.prototype.hasOwnProperty.call(object, "toJson")) {
        return;
      }
      read.objects.push(object);
      read.indexes.set(manifests[index], index);
      Object.defineProperty(object, "toJson", {
        value: () => manifests[index],
        configurable: true,
        writable: true,
      });
    });
  }
  const found = objects.map((c, index) => [c.node.path, manifests[index], c[OWN] === true]);
  const problems = JSON.parse(rules.validate(JSON.stringify(found)));
  const paths = new Map(objects.map((c) => [c.node.path, c]));
  const unplaced = [];
  for (const [path, message] of problems) {
    if (path === null) {
      unplaced.push(message);
    } else {
      const pending = [message];
      paths.get(path)!.node.addValidation({ validate: () => pending.splice(0) });
    }
  }
  return unplaced;
}

function defineOne(scope: IConstruct, id: string, value: any, refs: any[]): void {
  (cdk8s.ApiObject.of(create(scope, id, value, refs)) as any)[OWN] = true;
}

function create(scope: IConstruct, id: string, value: any, refs: any[]): IConstruct {
  if (MANIFEST in value) {
    const manifest = revive(value[MANIFEST], refs);
    return value.class === undefined
      ? new cdk8s.ApiObject(scope, id, manifest)
      : new (rendered(classOf(value.class)))(scope, id, manifest);
  }
  const { fqn, data } = value[STRUCT];
  if (fqn === `${KPLUS}.ServiceProps`) {
    const { $selectLabels: labels, ...props } = revive(data, refs);
    const service = new kplus.Service(scope, id, props);
    for (const [key, label] of Object.entries(labels)) {
      service.selectLabel(key, label);
    }
    return service;
  }
  const kind = k8s[fqn.split(".").pop().replace(/Props$/, "")];
  if (kind === undefined || !fqn.startsWith(`${KPLUS}.k8s.Kube`)) {
    throw new Error(`${fqn} is not the props struct of a Kubernetes object`);
  }
  return new (rendered(kind))(scope, id, kind.manifest(revive(data, refs)));
}

/** The class of jsii type `fqn`: of cdk8s-plus, or of an assembly the library loaded. */
function classOf(fqn: string): any {
  const [assembly, ...names] = fqn.split(".");
  const type = names.reduce(
    (module, name) => module?.[name],
    assembly === KPLUS ? kplus : require(assembly),
  );
  if (typeof type?.manifest !== "function") {
    throw new Error(`${fqn} is not a generated L1 or CRD class`);
  }
  return type;
}

const RENDERED = new Map<any, any>();

/**
 * The L1 class `kind` (`k8s.KubeStatefulSet`, …) holding the manifest its generated code
 * rendered: an instance is a real `kind` (for `instanceof` and jsii, which gives Python a
 * `k8s.Kube<Kind>`), and JSON patches apply to the final manifest, as on any ApiObject (the
 * generated `toJson` would render props again after the patches, dropping a patched quantity).
 */
function rendered(kind: any): any {
  if (!RENDERED.has(kind)) {
    RENDERED.set(
      kind,
      class extends kind {
        public toJson(): any {
          return cdk8s.ApiObject.prototype.toJson.call(this);
        }
      },
    );
  }
  return RENDERED.get(kind);
}

function describe(construct: any): any {
  const found: any = {
    namespace: cdk8s.Chart.of(construct).namespace ?? null,
    path: construct.node.path,
    name: typeof construct.name === "string" ? construct.name : null,
    ports: (construct.containers ?? []).flatMap((c: any) =>
      (c.ports ?? []).map((p: any) => p.number),
    ),
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

/**
 * `value` with every struct marker rendered by the generated `toJson_*` and refs resolved.
 * Lists and maps are revived in place: each `value` is fresh from `JSON.parse` and used once
 * (a copy of every map cost a third of `define`'s time at a cold start).
 */
function revive(value: any, refs: any[]): any {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      value[i] = revive(value[i], refs);
    }
    return value;
  }
  if (value === null || typeof value !== "object") {
    return value;
  }
  if (REF in value) {
    return refs[value[REF]];
  }
  if (LAZY in value) {
    const key = value[LAZY];
    return cdk8s.Lazy.any({ produce: () => rules.render(key) });
  }
  if (ENUM in value) {
    const [fqn, member] = value[ENUM];
    const type = fqn
      .split(".")
      .slice(1)
      .reduce((module: any, name: string) => module?.[name], kplus);
    if (!fqn.startsWith(`${KPLUS}.`) || type?.[member] === undefined) {
      throw new Error(`${fqn}.${member} is not a ${KPLUS} enum member`);
    }
    return type[member];
  }
  if (STRUCT in value) {
    const { fqn, data } = value[STRUCT];
    const toJson = k8s[`toJson_${fqn.split(".").pop()}`];
    if (toJson === undefined || !fqn.startsWith(`${KPLUS}.k8s.`)) {
      throw new Error(`${fqn} is not a generated Kubernetes struct`);
    }
    return toJson(revive(data, refs));
  }
  for (const key of Object.keys(value)) {
    value[key] = revive(value[key], refs);
  }
  return value;
}

function jsonPatch({ op, path, value }: any): cdk8s.JsonPatch {
  switch (op) {
    case "add":
      if (value === undefined) {
        throw new Error(`JSON patch "add" at ${JSON.stringify(path)} has no value`);
      }
      return cdk8s.JsonPatch.add(path, value);
    case "remove":
      return cdk8s.JsonPatch.remove(path);
    default:
      throw new Error(
        `JSON patch operation ${JSON.stringify(op)} is not supported: use add or remove`,
      );
  }
}
