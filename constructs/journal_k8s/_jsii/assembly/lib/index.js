"use strict";
// Each jsii call costs a round trip between Python and this Node process (about 0.5 ms),
// so the journal-k8s constructs hand over all of their API objects in one call, as JSON text.
const cdk8s = require("cdk8s");

class Manifests {
  /**
   * Defines one cdk8s ApiObject per [id, manifest] pair of `objects` (a JSON array) under
   * `scope`, then adds each [id, operation] of `patches` (a JSON array; the operation is an
   * RFC 6902 "add" or "remove") to the ApiObject child `id` of `scope`.
   */
  static define(scope, objects, patches) {
    for (const [id, manifest] of JSON.parse(objects)) {
      new cdk8s.ApiObject(scope, id, manifest);
    }
    for (const [id, operation] of JSON.parse(patches)) {
      cdk8s.ApiObject.of(scope.node.findChild(id)).addJsonPatch(jsonPatch(operation));
    }
  }

  /** Whether constructs `a` and `b` belong to the same chart (their closest Chart). */
  static sameChart(a, b) {
    return cdk8s.Chart.of(a) === cdk8s.Chart.of(b);
  }

  /** The chart's manifests, exactly as `chart.toJson()` renders them, as one JSON text. */
  static render(chart) {
    return JSON.stringify(chart.toJson());
  }
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

exports.Manifests = Manifests;
