// Checks one rendered value set of the Helm chart (tests/chart/run.sh drives it).
//
//   node tests/chart/check.mjs RENDERED.yaml --values chart/values.yaml [--values SET.yaml]
//        [--expect Kind,Kind] [--absent Kind,Kind]
//   node tests/chart/check.mjs --docs chart/values.yaml chart/README.md
//   node tests/chart/check.mjs --image etc/Containerfile
//
// The rendered checks know the image: they render its lighttpd config with its
// own entrypoint (etc/container/entrypoint.sh) from the Deployment's env, so
// probe paths, ports, writable paths and passed variables are compared with
// what lighttpd will really do. Prints one line per failure; exit 1 on any.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import YAML from "../node_modules/yaml/dist/index.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const entrypoint = path.join(repo, "etc/container/entrypoint.sh");
const confTemplate = path.join(repo, "etc/container/lighttpd.conf");

const failures = [];
const fail = (msg) => failures.push(msg);
const finish = (what) => {
  for (const f of failures) console.log(`FAIL ${what}: ${f}`);
  process.exit(failures.length ? 1 : 0);
};

// ---- small helpers ---------------------------------------------------------

function isObj(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// Helm's merge: maps merge, anything else replaces, null deletes.
function merge(dst, src) {
  for (const [k, v] of Object.entries(src ?? {})) {
    if (v === null) delete dst[k];
    else if (isObj(v) && isObj(dst[k])) merge(dst[k], v);
    else dst[k] = v;
  }
  return dst;
}

// Kubernetes memory quantity -> bytes.
function bytes(q) {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.exec(String(q));
  if (!m) return NaN;
  const mult = { undefined: 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 }[m[2]];
  return Number(m[1]) * mult;
}

const subset = (sel, labels) =>
  isObj(sel) && Object.keys(sel).length > 0 &&
  Object.entries(sel).every(([k, v]) => labels?.[k] === v);

// Every string under keys named like `names` in a values tree.
function collect(tree, names, out = new Set()) {
  if (Array.isArray(tree)) tree.forEach((v) => collect(v, names, out));
  else if (isObj(tree))
    for (const [k, v] of Object.entries(tree)) {
      if (names.includes(k) && typeof v === "string" && v) out.add(v);
      else collect(v, names, out);
    }
  return out;
}

// What is wrong with the text of an AXON_SEAL_KEYS_FILE, or "": the rules of
// seal_keyring_parse (src/seal.c): entries `id:key` separated by newlines or
// commas, `#` comment lines, ids 1 to 16 of [A-Za-z0-9_-] and never twice, at
// most 16 entries, each key 32 bytes in base64. At least one entry, since
// without one axon seals with a random key of its own (seal_start). Key
// material is never printed.
function sealKeysProblem(text) {
  const entries = text.split("\n")
    .filter((l) => !/^[ \t]*#/.test(l))
    .flatMap((l) => l.split(","))
    .map((e) => e.trim())
    .filter(Boolean);
  if (!entries.length) return "no id:key entry, so each axon process would seal with a random key";
  if (entries.length > 16) return `${entries.length} entries, axon holds at most 16`;
  const ids = new Set();
  for (const [i, e] of entries.entries()) {
    const colon = e.indexOf(":");
    const id = colon < 0 ? "" : e.slice(0, colon).trim();
    if (!/^[A-Za-z0-9_-]{1,16}$/.test(id)) return `entry ${i + 1} is not id:key with an id of 1 to 16 of A-Z a-z 0-9 _ -`;
    if (ids.has(id)) return `key id ${id} is given twice`;
    ids.add(id);
    const k = e.slice(colon + 1).trim();
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(k) || Buffer.from(k, "base64").length !== 32)
      return `key ${id} is not 32 bytes in base64`;
  }
  return "";
}

// The image's lighttpd config for a container's env, rendered by the image's
// own entrypoint, and the facts the checks need from it.
function imageConfig(env) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "axon-chart-"));
  try {
    const file = execFileSync("sh", [entrypoint], {
      env: { PATH: process.env.PATH, AXON_ENTRYPOINT_RENDER_ONLY: "1",
        AXON_CONF_IN: confTemplate, AXON_RUN_DIR: dir, ...env },
      encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
    }).trim();
    const text = fs.readFileSync(file, "utf8").replace(/^\s*#.*$/gm, "");
    const one = (re) => re.exec(text)?.[1];
    const strings = (s) => [...(s ?? "").matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    const runDir = /run_dir=\$\{AXON_RUN_DIR:-([^}]+)\}/.exec(fs.readFileSync(entrypoint, "utf8"))?.[1];
    return {
      port: Number(one(/^\s*server\.port\s*=\s*(\d+)/m)),
      pidFile: one(/^\s*server\.pid-file\s*=\s*"([^"]+)"/m),
      uploadDirs: strings(one(/^\s*server\.upload-dirs\s*=\s*\(([^)]*)\)/m)),
      socket: one(/"socket"\s*=>\s*"([^"]+)"/),
      binPath: one(/"bin-path"\s*=>\s*"([^"]+)"/),
      docRoot: one(/^\s*server\.document-root\s*=\s*"([^"]+)"/m),
      // Routed to axon: under the =^ prefix and not matching the !~ pattern
      // of what stays static (etc/container/lighttpd.conf says why).
      axonUrl: ((prefix, stat) => ({
        test: (p) => prefix !== undefined && p.startsWith(prefix) && !stat.test(p),
        toString: () => `=^ "${prefix}" and !~ ${stat}`,
      }))(one(/\$HTTP\["url"\]\s*=\^\s*"([^"]*)"/), new RegExp(one(/\$HTTP\["url"\]\s*!~\s*"([^"]+)"/))),
      copyEnv: new Set(strings(one(/"bin-copy-environment"\s*=>\s*\(([^)]*)\)/))),
      runDir,
    };
  } catch (e) {
    fail(`the image entrypoint could not render lighttpd's config: ${e.stderr || e.message}`);
    return null;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- --docs: every value commented, every commented value in the README ----

function checkDocs(valuesFile, readmeFile) {
  const doc = YAML.parseDocument(fs.readFileSync(valuesFile, "utf8"));
  const readme = fs.readFileSync(readmeFile, "utf8");
  const documented = (c) => (c ?? "").split("\n").some((l) => l.trim().startsWith("-- "));
  const walk = (map, prefix, covered) => {
    map.items.forEach((pair, i) => {
      const key = prefix + pair.key.value;
      // The comment above a map's first key is stored on the map itself.
      const comment = (pair.key.commentBefore ?? "") + (i === 0 ? map.commentBefore ?? "" : "");
      const own = documented(comment);
      if (own && !readme.includes("`" + key + "`"))
        fail(`${key} is documented in values.yaml but not in ${path.basename(readmeFile)}`);
      if (YAML.isMap(pair.value) && pair.value.items.length && !own) walk(pair.value, key + ".", covered || own);
      else if (!own && !covered) fail(`${key} has no "# -- " comment in values.yaml`);
    });
  };
  walk(doc.contents, "", false);
  finish("docs");
}

// ---- --image: the Containerfile against the repository and the chart -------

function checkImage(file) {
  const text = fs.readFileSync(file, "utf8").replace(/\\\n/g, " ");
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const copies = {};
  for (const l of lines.filter((l) => /^COPY\s/i.test(l))) {
    const parts = l.split(/\s+/).slice(1);
    const from = parts[0].startsWith("--from=");
    const args = parts.filter((p) => !p.startsWith("--"));
    const dest = args.pop();
    for (const src of args) {
      if (!from && !fs.existsSync(path.join(repo, src))) fail(`COPY source ${src} is not in the repository`);
      copies[src] = dest.endsWith("/") && !src.endsWith("/") ? dest + path.basename(src) : dest;
    }
  }
  const conf = imageConfig({});
  if (!conf) return finish("image");
  const axonDest = Object.entries(copies).find(([s]) => s.endsWith("/build/axon"))?.[1];
  if (axonDest !== conf.binPath) fail(`axon is copied to ${axonDest}, lighttpd's bin-path is ${conf.binPath}`);
  const www = copies["www/"]?.replace(/\/$/, "");
  if (www !== conf.docRoot) fail(`www/ is copied to ${www}, lighttpd's document-root is ${conf.docRoot}`);
  const confIn = /conf_in=\$\{AXON_CONF_IN:-([^}]+)\}/.exec(fs.readFileSync(entrypoint, "utf8"))?.[1];
  if (copies["etc/container/lighttpd.conf"] !== confIn)
    fail(`etc/container/lighttpd.conf is copied to ${copies["etc/container/lighttpd.conf"]}, the entrypoint reads ${confIn}`);
  const ep = /^ENTRYPOINT\s+\[\s*"([^"]+)"/m.exec(lines.join("\n"))?.[1];
  if (copies["etc/container/entrypoint.sh"] !== ep) fail(`ENTRYPOINT ${ep} is not where entrypoint.sh is copied`);
  const user = /^USER\s+(\d+)/m.exec(lines.join("\n"))?.[1];
  const values = YAML.parse(fs.readFileSync(path.join(repo, "chart/values.yaml"), "utf8"));
  if (Number(user) !== values.podSecurityContext.runAsUser)
    fail(`USER ${user} differs from the chart's podSecurityContext.runAsUser ${values.podSecurityContext.runAsUser}`);
  const expose = /^EXPOSE\s+(\d+)/m.exec(lines.join("\n"))?.[1];
  if (Number(expose) !== conf.port) fail(`EXPOSE ${expose} but lighttpd listens on ${conf.port}`);
  if (!/^STOPSIGNAL\s+SIGINT$/m.test(lines.join("\n")))
    fail("STOPSIGNAL must be SIGINT (lighttpd's graceful stop; SIGTERM drops open streams)");
  finish("image");
}

// ---- rendered manifests ---------------------------------------------------

function checkRendered(file, valueFiles, expect, absent) {
  const values = valueFiles.reduce((acc, f) => merge(acc, YAML.parse(fs.readFileSync(f, "utf8")) ?? {}), {});
  const existingSecrets = collect(values, ["existingSecret"]);
  for (const s of values.imagePullSecrets ?? []) existingSecrets.add(s);
  const existingConfigMaps = collect(values, ["existingConfigMap"]);

  const objs = [];
  YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).forEach((d, i) => {
    if (d.errors.length) return fail(`document ${i + 1}: ${d.errors[0].message}`);
    const o = d.toJS();
    if (o === null) return;
    if (typeof o.apiVersion !== "string" || typeof o.kind !== "string" || typeof o.metadata?.name !== "string")
      return fail(`document ${i + 1} lacks apiVersion, kind or metadata.name`);
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(o.metadata.name))
      fail(`${o.kind} ${o.metadata.name}: not a valid object name`);
    objs.push(o);
  });
  const of = (kind) => objs.filter((o) => o.kind === kind);
  const get = (kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);
  const seen = new Set();
  for (const o of objs) {
    const id = `${o.kind}/${o.metadata.name}`;
    if (seen.has(id)) fail(`${id} is rendered twice`);
    seen.add(id);
  }
  for (const k of expect) if (!of(k).length) fail(`expected a ${k}, none rendered`);
  for (const k of absent) if (of(k).length) fail(`expected no ${k}, got ${of(k).map((o) => o.metadata.name)}`);

  const workloads = objs.filter((o) => ["Deployment", "StatefulSet", "DaemonSet"].includes(o.kind));
  const podLabels = (w) => w.spec?.template?.metadata?.labels ?? {};
  const containersOf = (w) => [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers];
  const axon = workloads.find((w) => w.spec.template.spec.containers.some((c) => c.name === "axon"));
  const valkey = workloads.find((w) => w.spec.template.spec.containers.some((c) => c.name === "valkey"));
  if (!axon) {
    fail("no workload runs a container named axon");
    return finish(path.basename(file));
  }

  // Secrets and ConfigMaps: defined here (with the key) or declared existing.
  const hasKey = (o, key) => key === undefined || key in (o.data ?? {}) || key in (o.stringData ?? {});
  const refSecret = (where, name, key) => {
    const s = get("Secret", name);
    if (s) { if (!hasKey(s, key)) fail(`${where}: Secret ${name} has no key ${key}`); }
    else if (!existingSecrets.has(name)) fail(`${where}: Secret ${name} is neither rendered nor declared existing`);
  };
  const refConfigMap = (where, name, key) => {
    const c = get("ConfigMap", name);
    if (c) { if (!hasKey(c, key)) fail(`${where}: ConfigMap ${name} has no key ${key}`); }
    else if (!existingConfigMaps.has(name)) fail(`${where}: ConfigMap ${name} is neither rendered nor declared existing`);
  };

  for (const w of workloads) {
    const id = `${w.kind} ${w.metadata.name}`;
    const pod = w.spec.template.spec;
    if (!subset(w.spec.selector?.matchLabels, podLabels(w))) fail(`${id}: selector does not match its pod labels`);
    for (const v of pod.volumes ?? []) {
      if (v.secret) for (const it of v.secret.items ?? [{}]) refSecret(`${id} volume ${v.name}`, v.secret.secretName, it.key);
      if (v.configMap) for (const it of v.configMap.items ?? [{}]) refConfigMap(`${id} volume ${v.name}`, v.configMap.name, it.key);
      for (const src of v.projected?.sources ?? []) {
        if (src.secret) for (const it of src.secret.items ?? [{}]) refSecret(`${id} volume ${v.name}`, src.secret.name, it.key);
        if (src.configMap) for (const it of src.configMap.items ?? [{}]) refConfigMap(`${id} volume ${v.name}`, src.configMap.name, it.key);
      }
    }
    const volumeNames = new Set([...(pod.volumes ?? []).map((v) => v.name),
      ...(w.spec.volumeClaimTemplates ?? []).map((c) => c.metadata.name)]);
    for (const c of containersOf(w)) {
      const cid = `${id} container ${c.name}`;
      const defined = new Set();
      for (const e of c.env ?? []) {
        const sk = e.valueFrom?.secretKeyRef, ck = e.valueFrom?.configMapKeyRef;
        if (sk && !sk.optional) refSecret(`${cid} env ${e.name}`, sk.name, sk.key);
        if (ck && !ck.optional) refConfigMap(`${cid} env ${e.name}`, ck.name, ck.key);
        // Kubernetes expands $(VAR) only from variables defined before it.
        for (const m of String(e.value ?? "").matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g))
          if (!defined.has(m[1])) fail(`${cid} env ${e.name}: $(${m[1]}) is not defined before it`);
        if (/(KEY|PASSWORD|TOKEN|SECRET)S?$/.test(e.name) && e.value !== undefined)
          fail(`${cid} env ${e.name}: a secret in plain text in the pod spec (use valueFrom)`);
        defined.add(e.name);
      }
      for (const ef of c.envFrom ?? []) {
        if (ef.secretRef && !ef.secretRef.optional) refSecret(`${cid} envFrom`, ef.secretRef.name);
        if (ef.configMapRef && !ef.configMapRef.optional) refConfigMap(`${cid} envFrom`, ef.configMapRef.name);
      }
      for (const m of c.volumeMounts ?? [])
        if (!volumeNames.has(m.name)) fail(`${cid} mounts volume ${m.name}, which the pod does not define`);
      // Security: non-root, read-only root, no escalation, no capabilities.
      const sc = c.securityContext ?? {}, psc = pod.securityContext ?? {};
      if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) fail(`${cid}: runAsNonRoot is not true`);
      const uid = sc.runAsUser ?? psc.runAsUser;
      if (!(Number.isInteger(uid) && uid > 0)) fail(`${cid}: runAsUser is not a fixed non-zero UID`);
      if (sc.readOnlyRootFilesystem !== true) fail(`${cid}: readOnlyRootFilesystem is not true`);
      if (sc.allowPrivilegeEscalation !== false) fail(`${cid}: allowPrivilegeEscalation is not false`);
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) fail(`${cid}: capabilities do not drop ALL`);
      if (sc.privileged) fail(`${cid}: privileged`);
      // Probes reach a declared port.
      const ports = c.ports ?? [];
      const portOk = (p) => ports.some((d) => d.containerPort === p || (d.name && d.name === p));
      for (const kind of ["livenessProbe", "readinessProbe", "startupProbe"]) {
        const p = c[kind];
        if (!p) continue;
        const target = p.httpGet ?? p.tcpSocket ?? p.grpc;
        if (target && !portOk(target.port)) fail(`${cid} ${kind}: port ${target.port} is not a container port`);
        if (p.exec && !(p.exec.command ?? []).length) fail(`${cid} ${kind}: empty exec command`);
        if (!target && !p.exec) fail(`${cid} ${kind}: no handler`);
      }
    }
  }

  // ---- the axon pod against the image's lighttpd config ----
  const pod = axon.spec.template.spec;
  const c = pod.containers.find((x) => x.name === "axon");
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
  const conf = imageConfig({
    ...(env.AXON_BASE_PATH !== undefined && { AXON_BASE_PATH: env.AXON_BASE_PATH }),
    ...(env.AXON_DRAIN_S !== undefined && { AXON_DRAIN_S: env.AXON_DRAIN_S }),
    ...(env.AXON_PASS_ENV !== undefined && { AXON_PASS_ENV: env.AXON_PASS_ENV }),
  });
  const base = env.AXON_BASE_PATH ?? "";
  const http = (c.ports ?? []).find((p) => p.name === "http");
  if (conf) {
    if (!http || http.containerPort !== conf.port) fail(`axon: containerPort "http" is not lighttpd's port ${conf.port}`);
    const probe = (kind, want) => {
      const g = c[kind]?.httpGet;
      if (!g) return fail(`axon ${kind}: not an httpGet probe`);
      if (g.path !== base + want) fail(`axon ${kind}: path ${g.path}, expected ${base + want}`);
      if (!conf.axonUrl.test(g.path)) fail(`axon ${kind}: lighttpd does not route ${g.path} to axon (${conf.axonUrl})`);
      const port = (c.ports ?? []).find((p) => p.name === g.port || p.containerPort === g.port);
      if (port?.containerPort !== conf.port) fail(`axon ${kind}: port ${g.port} is not lighttpd's ${conf.port}`);
    };
    probe("livenessProbe", "/health");
    probe("readinessProbe", "/ready");
    if (!conf.axonUrl.test(base + "/v1/models")) fail(`lighttpd does not route ${base}/v1/models to axon`);

    // Every variable axon must see is in bin-copy-environment; helpers used
    // only for $(VAR) expansion and the entrypoint's own are not passed.
    const expanded = new Set((c.env ?? []).flatMap((e) =>
      [...String(e.value ?? "").matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1])));
    for (const e of c.env ?? [])
      if (e.name !== "AXON_PASS_ENV" && !expanded.has(e.name) && !conf.copyEnv.has(e.name))
        fail(`axon env ${e.name} is not in lighttpd's bin-copy-environment: axon would never see it`);

    // Paths lighttpd and the entrypoint write must be on writable emptyDirs.
    const mountFor = (p) => (c.volumeMounts ?? [])
      .filter((m) => p === m.mountPath || p.startsWith(m.mountPath.replace(/\/$/, "") + "/"))
      .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    const writable = [conf.runDir, path.dirname(conf.pidFile), path.dirname(conf.socket), ...conf.uploadDirs];
    for (const p of writable) {
      const m = mountFor(p);
      const v = m && (pod.volumes ?? []).find((x) => x.name === m.name);
      if (!v?.emptyDir || m.readOnly) fail(`axon: ${p} is written by lighttpd/the entrypoint but is not on a writable emptyDir`);
    }
  }

  // *_FILE settings name a file some mounted volume provides.
  for (const [name, value] of Object.entries(env)) {
    if (!name.endsWith("_FILE") || !value) continue;
    const m = (c.volumeMounts ?? []).find((x) => path.dirname(value) === x.mountPath.replace(/\/$/, ""));
    const v = m && (pod.volumes ?? []).find((x) => x.name === m.name);
    const items = [
      ...(v?.secret?.items ?? []), ...(v?.configMap?.items ?? []),
      ...(v?.projected?.sources ?? []).flatMap((s) => (s.secret ?? s.configMap)?.items ?? []),
    ];
    if (!v || !items.some((it) => it.path === path.basename(value)))
      fail(`axon env ${name}=${value}: no mounted volume provides that file`);
  }

  // Sealed reasoning (docs/responses.md#sealed-reasoning): an encrypted_content
  // sealed on one pod must open on every other, so every axon process reads
  // the same keys: AXON_SEAL_KEYS_FILE names a file of one Secret (the same
  // object for every pod of the template; without it each process would make
  // a random key), mounted without subPath so a rotated Secret reaches it, and
  // the Secret, when rendered here, holds entries axon accepts.
  const sealFile = env.AXON_SEAL_KEYS_FILE;
  if (!sealFile) fail("axon: AXON_SEAL_KEYS_FILE is not set: each axon process would seal with a random key of its own, and another pod would refuse what it sealed");
  else {
    const m = (c.volumeMounts ?? []).find((x) => path.dirname(sealFile) === x.mountPath.replace(/\/$/, ""));
    const v = m && (pod.volumes ?? []).find((x) => x.name === m.name);
    const sources = [
      ...(v?.secret ? [{ name: v.secret.secretName, items: v.secret.items }] : []),
      ...(v?.projected?.sources ?? []).filter((s) => s.secret).map((s) => s.secret),
    ];
    const src = sources.find((s) => (s.items ?? []).some((it) => it.path === path.basename(sealFile)));
    if (!src) fail(`axon: AXON_SEAL_KEYS_FILE ${sealFile} is not a file of a Secret, so the pods would not share its keys`);
    else {
      if (m.subPath) fail(`axon: the volume holding ${sealFile} is mounted with subPath: a rotated Secret would never reach the file`);
      const key = src.items.find((it) => it.path === path.basename(sealFile)).key;
      const s = get("Secret", src.name);
      const sv = values.seal ?? {};
      if (s) {
        const text = s.stringData?.[key] ?? Buffer.from(s.data?.[key] ?? "", "base64").toString("utf8");
        const problem = sealKeysProblem(text);
        if (problem) fail(`Secret ${src.name} key ${key} (AXON_SEAL_KEYS_FILE): ${problem}`);
        // Given keys arrive as given, in order: the first one seals.
        else if ((sv.keys ?? []).length && text.split("\n").join(",") !== sv.keys.map((k) => String(k).trim()).join(","))
          fail(`Secret ${src.name} key ${key}: not the entries of seal.keys, in their order`);
      }
      // An operator's Secret is used, never replaced by a generated key.
      if (sv.existingSecret) {
        if (src.name !== sv.existingSecret || key !== (sv.existingSecretKey ?? "seal-keys"))
          fail(`axon: AXON_SEAL_KEYS_FILE comes from Secret ${src.name} key ${key}, not seal.existingSecret ${sv.existingSecret} key ${sv.existingSecretKey}`);
        for (const x of of("Secret"))
          if ("seal-keys" in (x.data ?? {}) || "seal-keys" in (x.stringData ?? {}))
            fail(`Secret ${x.metadata.name} generates seal keys although seal.existingSecret is given`);
      } else if (!s) fail(`axon: the seal keys' Secret ${src.name} is not rendered, yet seal.existingSecret is empty`);
    }
  }

  // Graceful stop: preStop sleep, then lighttpd drains for AXON_DRAIN_S.
  const pre = c.lifecycle?.preStop?.exec?.command;
  const sleep = pre && pre[0] === "sleep" ? Number(pre[1]) : NaN;
  if (!(sleep > 0)) fail("axon: no preStop sleep");
  const drain = Number(env.AXON_DRAIN_S ?? 30);
  if (!(pod.terminationGracePeriodSeconds > sleep + drain))
    fail(`axon: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} is not above preStop ${sleep} + AXON_DRAIN_S ${drain}`);

  // Valkey: reachable at the URL, never in plain text, bounded, never evicting.
  const url = env.AXON_VALKEY_URL ?? "";
  // One server; an external Valkey may also be a cluster or Sentinel-managed
  // (config.c parse_valkey's forms), which no bundled Service backs.
  const um = /^redis:\/\/(?::([^@]*)@)?([^:/]+)(?::(\d+))?(?:\/(\d+))?$/.exec(url) ??
    (valkey ? null : /^redis\+(?:cluster|sentinel):\/\/(?::([^@]*)@)?([^:/,]+)(?::(\d+))?(?:,[^:/,]+(?::\d+)?)*(?:\/[A-Za-z0-9._-]{0,64}(?:\/\d+)?)?$/.exec(url));
  if (!um) fail(`AXON_VALKEY_URL ${url} is not redis://[:password@]host[:port][/db]${valkey ? "" : ", redis+cluster://... or redis+sentinel://..."}`);
  else if (um[1] !== undefined && !/^\$\([A-Za-z_][A-Za-z0-9_]*\)$/.test(um[1]))
    fail("AXON_VALKEY_URL carries a literal password: it must come from a Secret through $(VAR)");
  if (valkey) {
    const vc = valkey.spec.template.spec.containers.find((x) => x.name === "valkey");
    const vport = vc.ports?.[0];
    const svc = um && get("Service", um[2]);
    if (!svc) fail(`AXON_VALKEY_URL host ${um?.[2]} is not a rendered Service`);
    else {
      if (!subset(svc.spec.selector, podLabels(valkey))) fail(`Service ${svc.metadata.name} does not select the Valkey pod`);
      const sp = svc.spec.ports.find((p) => p.port === Number(um[3] ?? 6379));
      if (!sp) fail(`AXON_VALKEY_URL port ${um[3]} is not a port of Service ${svc.metadata.name}`);
      else if (sp.targetPort !== vport.name && sp.targetPort !== vport.containerPort)
        fail(`Service ${svc.metadata.name} targets ${sp.targetPort}, not Valkey's port`);
    }
    const headless = get("Service", valkey.spec.serviceName);
    if (valkey.kind === "StatefulSet" && (headless?.spec.clusterIP !== "None" || !subset(headless.spec.selector, podLabels(valkey))))
      fail(`StatefulSet ${valkey.metadata.name}: serviceName is not a headless Service selecting its pod`);
    const cmVol = (valkey.spec.template.spec.volumes ?? []).find((v) => v.configMap);
    const confText = cmVol && get("ConfigMap", cmVol.configMap.name)?.data?.["valkey.conf"];
    if (!confText) fail("the Valkey pod mounts no rendered valkey.conf");
    else {
      const setting = (k) => new RegExp(`^\\s*${k}\\s+(\\S+)`, "m").exec(confText)?.[1];
      const limit = bytes(vc.resources?.limits?.memory);
      const maxmemory = Number(setting("maxmemory"));
      if (!(limit > 0)) fail("valkey: no memory limit");
      if (!(maxmemory > 0 && maxmemory < limit)) fail(`valkey: maxmemory ${setting("maxmemory")} is not below the memory limit ${vc.resources?.limits?.memory}`);
      if (setting("maxmemory-policy") !== "noeviction")
        fail(`valkey: maxmemory-policy ${setting("maxmemory-policy")}, must be noeviction (evictions split conversations)`);
      const hpa = of("HorizontalPodAutoscaler")[0];
      const pods = hpa ? hpa.spec.maxReplicas : axon.spec.replicas ?? 1;
      const need = Number(env.AXON_MAX_THREADS ?? 2048) * pods;
      if (!(Number(setting("maxclients")) >= need)) fail(`valkey: maxclients ${setting("maxclients")} below AXON_MAX_THREADS x ${pods} pods = ${need}`);
      const dataDir = setting("dir");
      const dm = vc.volumeMounts?.find((m) => m.mountPath === dataDir);
      if (!dm || dm.readOnly) fail(`valkey: its dir ${dataDir} is not a writable mount`);
    }
    // NetworkPolicy: Valkey's pods, reachable only from axon's, on Valkey's port.
    for (const np of of("NetworkPolicy")) {
      const sel = np.spec.podSelector?.matchLabels;
      if (!subset(sel, podLabels(valkey))) fail(`NetworkPolicy ${np.metadata.name}: podSelector does not select the Valkey pod`);
      if (subset(sel, podLabels(axon))) fail(`NetworkPolicy ${np.metadata.name}: podSelector also selects the axon pods`);
      if (!(np.spec.policyTypes ?? []).includes("Ingress")) fail(`NetworkPolicy ${np.metadata.name}: no Ingress policy type`);
      const rules = np.spec.ingress ?? [];
      if (!rules.length) fail(`NetworkPolicy ${np.metadata.name}: no ingress rule (all traffic denied)`);
      for (const r of rules) {
        if (!(r.from ?? []).length || !r.from.every((f) => f.podSelector && !f.namespaceSelector && !f.ipBlock && subset(f.podSelector.matchLabels, podLabels(axon))))
          fail(`NetworkPolicy ${np.metadata.name}: a rule admits more than the axon pods`);
        if (!(r.ports ?? []).length || !r.ports.every((p) => p.port === vport.containerPort || p.port === vport.name))
          fail(`NetworkPolicy ${np.metadata.name}: a rule opens more than Valkey's port`);
      }
    }
    if ((values.valkey?.enabled ?? true) && values.networkPolicy?.enabled && !of("NetworkPolicy").length)
      fail("networkPolicy.enabled but no NetworkPolicy rendered");
  }

  // Services select exactly one workload's pods, on a port it declares.
  for (const svc of of("Service")) {
    const sel = svc.spec.selector;
    const matched = workloads.filter((w) => subset(sel, podLabels(w)));
    if (matched.length !== 1) { fail(`Service ${svc.metadata.name} selects ${matched.length} workloads`); continue; }
    const ports = containersOf(matched[0]).flatMap((x) => x.ports ?? []);
    for (const p of svc.spec.ports)
      if (!ports.some((d) => d.name === p.targetPort || d.containerPort === p.targetPort))
        fail(`Service ${svc.metadata.name} port ${p.port}: targetPort ${p.targetPort} is no container port`);
  }
  for (const pdb of of("PodDisruptionBudget"))
    if (!subset(pdb.spec.selector?.matchLabels, podLabels(axon)) || subset(pdb.spec.selector?.matchLabels, podLabels(valkey ?? {})))
      fail(`PodDisruptionBudget ${pdb.metadata.name} does not select exactly the axon pods`);
  for (const hpa of of("HorizontalPodAutoscaler")) {
    const t = hpa.spec.scaleTargetRef;
    if (hpa.apiVersion !== "autoscaling/v2") fail(`HPA ${hpa.metadata.name}: apiVersion ${hpa.apiVersion}`);
    if (!get(t.kind, t.name) || t.name !== axon.metadata.name) fail(`HPA ${hpa.metadata.name}: scaleTargetRef ${t.kind}/${t.name} is not the axon Deployment`);
    if (!(hpa.spec.minReplicas <= hpa.spec.maxReplicas)) fail(`HPA ${hpa.metadata.name}: minReplicas above maxReplicas`);
    if (axon.spec.replicas !== undefined) fail("the Deployment sets replicas although an HPA scales it (every upgrade would reset it)");
  }
  for (const ing of of("Ingress"))
    for (const rule of ing.spec.rules ?? [])
      for (const p of rule.http?.paths ?? []) {
        const b = p.backend?.service;
        const svc = b && get("Service", b.name);
        if (!svc) { fail(`Ingress ${ing.metadata.name}: backend Service ${b?.name} not rendered`); continue; }
        if (!svc.spec.ports.some((sp) => sp.name === b.port.name || sp.port === b.port.number))
          fail(`Ingress ${ing.metadata.name}: Service ${b.name} has no port ${b.port.name ?? b.port.number}`);
        if (!subset(svc.spec.selector, podLabels(axon)))
          fail(`Ingress ${ing.metadata.name}: backend is not the axon Service`);
        if (p.path !== (base || "/") || p.pathType !== "Prefix")
          fail(`Ingress ${ing.metadata.name}: path ${p.path} (${p.pathType}), expected Prefix ${base || "/"} (AXON_BASE_PATH)`);
      }
  // Pods run as the image's user.
  const user = /^USER\s+(\d+)/m.exec(fs.readFileSync(path.join(repo, "etc/Containerfile"), "utf8"))?.[1];
  const uid = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
  if (uid !== Number(user)) fail(`axon runs as UID ${uid}, the image's USER is ${user}`);

  finish(path.basename(file));
}

// ---- command line ------------------------------------------------------------

const argv = process.argv.slice(2);
if (argv[0] === "--docs") checkDocs(argv[1], argv[2]);
else if (argv[0] === "--image") checkImage(argv[1]);
else {
  const valueFiles = [], expect = [], absent = [];
  let file;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--values") valueFiles.push(argv[++i]);
    else if (argv[i] === "--expect") expect.push(...argv[++i].split(",").filter(Boolean));
    else if (argv[i] === "--absent") absent.push(...argv[++i].split(",").filter(Boolean));
    else file = argv[i];
  }
  if (!file) { console.error("usage: check.mjs RENDERED.yaml --values FILE... [--expect K,K] [--absent K,K]"); process.exit(2); }
  checkRendered(file, valueFiles, expect, absent);
}
