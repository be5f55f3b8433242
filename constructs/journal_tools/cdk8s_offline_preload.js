'use strict';
// Node preload for a pinned cdk8s-cli: `cdk8s import k8s@X.Y.Z` reads the Kubernetes schema
// from a local file instead of downloading it.
//
//   NODE_OPTIONS="--require /path/to/cdk8s_offline_preload.js"
//   CDK8S_OFFLINE_K8S_SCHEMA=/path/to/_definitions.json   (the "definitions" layout cdk8s reads)
//   CDK8S_OFFLINE_K8S_VERSION=1.27.0                        (the only version that file serves)
//
// cdk8s-cli's lib/import/k8s.js fetches
// https://raw.githubusercontent.com/cdk8s-team/cdk8s/master/kubernetes-schemas/v<version>/_definitions.json
// through `download` exported by lib/util.js and calls it as `(0, util_1.download)(url)`, so
// replacing that export before the command runs is enough. Any other Kubernetes schema version
// fails at once with a clear message; any other URL (CRDs) goes to the original helper.
// In node processes other than cdk8s-cli (jsii, children) this file does nothing.

const fs = require('fs');
const path = require('path');

const SCHEMA_URL = /\/kubernetes-schemas\/v(\d+\.\d+\.\d+)\/_definitions\.json$/;

function cliPackageDir() {
  const script = process.argv[1];
  if (!script) {
    return undefined;
  }
  let real;
  try {
    real = fs.realpathSync(script);
  } catch {
    return undefined;
  }
  // <prefix>/node_modules/cdk8s-cli/bin/cdk8s
  const dir = path.dirname(path.dirname(real));
  if (path.basename(real) !== 'cdk8s' || path.basename(dir) !== 'cdk8s-cli') {
    return undefined;
  }
  return dir;
}

function install() {
  const cliDir = cliPackageDir();
  if (!cliDir) {
    return;
  }
  const schemaFile = process.env.CDK8S_OFFLINE_K8S_SCHEMA;
  const version = process.env.CDK8S_OFFLINE_K8S_VERSION;
  if (!schemaFile || !version) {
    throw new Error(
      'cdk8s_offline_preload: set CDK8S_OFFLINE_K8S_SCHEMA (a local _definitions.json) and ' +
        'CDK8S_OFFLINE_K8S_VERSION (the Kubernetes version it describes, e.g. 1.27.0)',
    );
  }
  const util = require(path.join(cliDir, 'lib', 'util.js'));
  const original = util.download;
  if (typeof original !== 'function') {
    throw new Error(`cdk8s_offline_preload: ${cliDir}/lib/util.js exports no download(); ` +
      'this preload fits the pinned cdk8s-cli only');
  }
  util.download = async function offlineDownload(url) {
    const match = SCHEMA_URL.exec(String(url));
    if (!match) {
      return original(url);
    }
    if (match[1] !== version) {
      throw new Error(`offline: no local schema for Kubernetes ${match[1]} ` +
        `(CDK8S_OFFLINE_K8S_SCHEMA serves ${version} only)`);
    }
    return fs.promises.readFile(schemaFile, 'utf-8');
  };
}

install();
