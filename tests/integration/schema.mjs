// Validators for OpenAI's wire format, compiled with ajv from the official
// OpenAPI spec (openai/openai-openapi openapi.yaml, OpenAPI 3.1.0 = JSON Schema
// 2020-12 dialect), so a test can tell whether the gateway sent the shape an
// OpenAI client expects:
//
//   validateResponse(obj)   CreateChatCompletionResponse
//   validateChunk(obj)      CreateChatCompletionStreamResponse (one SSE data: object)
//   validateError(obj)      ErrorResponse ({"error":{message,type,param,code}})
//   validateModel(obj)      Model
//   validateModelList(obj)  ListModelsResponse
//   assertValid(kind, obj)  throws an AssertionError listing ajv's errors;
//                           kind is one of the keys of KINDS below
//
// Each validateX returns true/false and, like an ajv validator, leaves the
// errors of its last call in validateX.errors (null when valid).
//
// The spec is found at ../shared/spec/openai-openapi.yaml next to the repo
// (override: OPENAI_SPEC=/path/to/openapi.yaml). Loading it (3 MB of YAML)
// takes a second or two, so it happens on the first validation, not on import.
//
// The spec is used as published; the only changes made before compiling are
// the ones that make its OpenAPI-isms mean in JSON Schema what they mean in
// OpenAPI (see prepare() below):
//   - `nullable: true` (an OpenAPI 3.0 keyword that this 3.1 document still
//     uses in ~110 places, e.g. a chunk's finish_reason and usage) becomes
//     anyOf[<the schema>, {type: null}]. JSON Schema 2020-12 has no `nullable`,
//     so a strict 3.1 reading would reject the null finish_reason of every real
//     stream chunk; ajv's own `nullable` support does not help either: it
//     throws on `nullable` without a sibling `type` (chunk.usage is
//     {$ref: CompletionUsage, nullable: true}) and still applies a sibling
//     `enum` that lacks null (finish_reason). `nullable: false` is dropped.
//   - vendor extensions (`x-oaiMeta`, `x-oaiTypeLabel`, `x-stainless-const`,
//     ... every `x-*` key of a schema object) are removed: by the OpenAPI rules
//     they never constrain anything.
//   - `example` and `externalDocs`/`xml` (OpenAPI Schema Object fields) are
//     registered as annotation-only keywords; `discriminator` is checked by
//     ajv's own OpenAPI discriminator support (it only picks which oneOf
//     branch applies, by the `type` property).
//   - format `unixtime` (OpenAPI/OpenAI-specific, on integers and numbers) is
//     defined as "Unix time in seconds": a non-negative number below 1e11, so
//     that milliseconds (1.7e12) are caught. All other formats come from
//     ajv-formats.
// Nothing else is relaxed: ajv runs in strict mode (minus strictTypes, a
// schema-style lint that does not change what validates), so any other keyword
// the spec grows on a schema these validators reach (it has typos such as
// `min_items` and 2019-09's `$recursiveRef` elsewhere) makes compiling fail
// loudly instead of being silently ignored. No schema the validators reach
// sets additionalProperties: false, so axon's extra fields (conversation_id,
// reasoning_content) are valid, as they are for OpenAI's SDKs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { REPO_ROOT } from './lib.mjs';

// ajv and ajv-formats are CommonJS; require() avoids default-export interop.
const require = createRequire(import.meta.url);

export const SPEC_PATH = process.env.OPENAI_SPEC
  ? path.resolve(process.env.OPENAI_SPEC)
  : path.resolve(REPO_ROOT, 'tests', 'data', 'spec', 'openai-openapi.yaml');

const SPEC_ID = 'https://axon.invalid/openai-openapi.json';

// kind (for assertValid) -> schema name in components.schemas
export const KINDS = {
  response: 'CreateChatCompletionResponse',
  chunk: 'CreateChatCompletionStreamResponse',
  error: 'ErrorResponse',
  model: 'Model',
  modelList: 'ListModelsResponse',
  embedding: 'CreateEmbeddingResponse',
  completion: 'CreateCompletionResponse',
  conversation: 'ConversationResource',
  conversationDeleted: 'DeletedConversationResource',
  conversationItem: 'ConversationItem',
  conversationItemList: 'ConversationItemList',
  responseObject: 'Response',
  responseItemList: 'ResponseItemList',
  itemResource: 'ItemResource',
  responseEvent: 'ResponseStreamEvent',
  inputTokens: 'TokenCountsResource',
};

// Keywords whose value is a map of name -> schema, a list of schemas, or one
// schema (or, for items/additionalProperties, possibly a boolean / list).
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
const SCHEMA_ONE = new Set([
  'items', 'additionalItems', 'additionalProperties', 'unevaluatedItems', 'unevaluatedProperties',
  'not', 'if', 'then', 'else', 'contains', 'propertyNames',
]);

// A copy of one schema object with the OpenAPI-isms translated (see the top).
// Walks only schema positions, so enum/default/example/const values and
// property names are never touched.
function prepare(schema) {
  if (Array.isArray(schema)) return schema.map(prepare);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out = {};
  let nullable = false;
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith('x-')) continue;
    if (key === 'nullable') {
      if (typeof value !== 'boolean') throw new Error(`spec: nullable must be a boolean, got ${JSON.stringify(value)}`);
      nullable = value;
      continue;
    }
    if (SCHEMA_MAPS.has(key)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, prepare(sub)]));
    } else if (SCHEMA_LISTS.has(key) || SCHEMA_ONE.has(key)) {
      out[key] = prepare(value);
    } else {
      out[key] = value;
    }
  }
  if (!nullable) return out;
  const { description, title, deprecated, default: dflt, ...rest } = out;
  const wrapped = { anyOf: [rest, { type: 'null' }] };
  if (title !== undefined) wrapped.title = title;
  if (description !== undefined) wrapped.description = description;
  if (deprecated !== undefined) wrapped.deprecated = deprecated;
  if (dflt !== undefined) wrapped.default = dflt;
  return wrapped;
}

function buildAjv() {
  const Ajv2020 = require('ajv/dist/2020');
  const addFormats = require('ajv-formats');
  const YAML = require('yaml');

  let text;
  try {
    text = fs.readFileSync(SPEC_PATH, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the OpenAI spec at ${SPEC_PATH} (set OPENAI_SPEC): ${e.message}`);
  }
  const spec = YAML.parse(text);
  parsedSpec = spec;
  const schemas = spec?.components?.schemas;
  if (!schemas || typeof schemas !== 'object') throw new Error(`${SPEC_PATH}: no components.schemas`);
  for (const name of Object.values(KINDS)) {
    if (!schemas[name]) throw new Error(`${SPEC_PATH}: components.schemas.${name} is missing`);
  }

  const ajv = new Ajv2020({
    strict: true,          // unknown keywords, unknown formats, ...: all errors
    // except strictTypes, a lint of schema style that never changes what
    // validates: the spec puts `discriminator` (and other object keywords)
    // next to oneOf without a sibling `type: object`, which it rejects.
    strictTypes: false,
    // and strictRequired, another lint: a `required` name the schema's own
    // properties do not list (MCPApprovalResponseResource's request_id,
    // reached through ConversationItem) is still required.
    strictRequired: false,
    allowUnionTypes: true, // 3.1 `type: [X, "null"]` is legal JSON Schema, not a mistake
    allErrors: true,       // report every problem in a bad object, not just the first
    discriminator: true,   // OpenAPI `discriminator` on oneOf
    validateFormats: true,
  });
  addFormats(ajv);
  ajv.addFormat('unixtime', {
    type: 'number',
    validate: (n) => Number.isFinite(n) && n >= 0 && n < 1e11,
  });
  for (const keyword of ['example', 'externalDocs', 'xml']) ajv.addKeyword({ keyword });
  // The wrapper document below has `components` where a schema has keywords;
  // ajv compiles that root (to {}) when it resolves a reference into it.
  ajv.addKeyword({ keyword: 'components' });

  const prepared = Object.fromEntries(Object.entries(schemas).map(([name, s]) => [name, prepare(s)]));
  // ajv's discriminator support needs a oneOf whose every branch declares
  // properties.type (an enum or const) itself; the spec's ConversationItem
  // (and the Responses output items) reach some branches through allOf
  // (FunctionToolCallResource), and some discriminators sit beside anyOf:
  // ajv refuses to compile either. In OpenAPI a
  // discriminator only picks the branch: where ajv cannot use it, it is
  // dropped and oneOf alone decides (the same objects validate).
  const PREFIX = '#/components/schemas/';
  const branch = (b) => (typeof b?.$ref === 'string' && b.$ref.startsWith(PREFIX) ? prepared[b.$ref.slice(PREFIX.length)] : b);
  const walk = (o) => {
    if (Array.isArray(o)) { o.forEach(walk); return; }
    if (typeof o !== 'object' || o === null) return;
    const tagged = (b) => { const t = branch(b)?.properties?.type; return t && (t.enum || t.const !== undefined); };
    // (and where two branches share a tag: ItemResource's input and output
    // messages are both `message`.)
    const tags = (l) => l.flatMap((b) => { const t = branch(b)?.properties?.type; return t?.enum ?? [t?.const]; });
    const unique = (l) => { const t = tags(l); return new Set(t).size === t.length; };
    if (o.discriminator && !(Array.isArray(o.oneOf) && o.oneOf.every(tagged) && unique(o.oneOf))) {
      delete o.discriminator;
    }
    Object.values(o).forEach(walk);
  };
  walk(prepared);
  // The whole components.schemas under one id, so the spec's own
  // "#/components/schemas/Name" references resolve inside it. Not checked
  // against the meta-schema (the last argument): the wrapper document is not
  // itself a schema; strict mode checks each schema compile() reaches.
  ajv.addSchema({ $id: SPEC_ID, components: { schemas: prepared } }, undefined, undefined, false);
  return ajv;
}

let compiled; // kind -> ajv validate function
let parsedSpec; // the spec as parsed (not prepared), for tests that read its examples

// The parsed spec document (loading it if no validation has yet).
export function rawSpec() {
  if (!parsedSpec) validatorFor('response');
  return parsedSpec;
}

let mainAjv; // the instance every kind is compiled by

// Each kind is compiled on its first use, alone: the Responses and
// Conversations kinds take seconds to compile, and compiling every kind at
// the first chat validation blocked node's event loop past lighttpd's 5 s
// keep-alive idle, so the next request reused a socket lighttpd had closed
// ("other side closed": seen in make test). Files that use the big kinds
// compile them in a before() hook, before any connection is open.
function validatorFor(kind) {
  if (!mainAjv) {
    mainAjv = buildAjv();
    compiled = {};
  }
  if (!compiled[kind]) {
    const name = KINDS[kind];
    if (!name) throw new Error(`schema.mjs: unknown kind '${kind}' (one of ${Object.keys(KINDS).join(', ')})`);
    compiled[kind] = mainAjv.compile({ $ref: `${SPEC_ID}#/components/schemas/${name}` });
  }
  return compiled[kind];
}

// Compiles the given kinds now: for a before() hook, so that no request's
// kept-alive connection sits idle behind a compile of seconds.
export function precompile(...kinds) {
  for (const k of kinds) validatorFor(k);
}

function makeValidator(kind) {
  const fn = (obj) => {
    const v = validatorFor(kind);
    const ok = v(obj);
    fn.errors = ok ? null : v.errors;
    return ok;
  };
  fn.errors = null;
  Object.defineProperty(fn, 'name', { value: `validate:${KINDS[kind]}` });
  return fn;
}

export const validateResponse = makeValidator('response');
export const validateChunk = makeValidator('chunk');
export const validateError = makeValidator('error');
export const validateModel = makeValidator('model');
export const validateModelList = makeValidator('modelList');

const BY_KIND = {
  response: validateResponse,
  chunk: validateChunk,
  error: validateError,
  model: validateModel,
  modelList: validateModelList,
};

// One line per ajv error: where, what, and the offending detail.
export function formatErrors(errors) {
  return (errors || [])
    .map((e) => {
      const where = e.instancePath || '(root)';
      const params = e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : '';
      return `  ${where} ${e.message}${params}  [${e.schemaPath}]`;
    })
    .join('\n');
}

// Throws an AssertionError naming the schema, ajv's errors and the object.
export function assertValid(kind, obj, what = '') {
  // A kind without a named export is compiled on its first use.
  const validate = BY_KIND[kind] ?? (KINDS[kind] ? (BY_KIND[kind] = makeValidator(kind)) : undefined);
  if (!validate) throw new Error(`assertValid: unknown kind '${kind}' (one of ${Object.keys(BY_KIND).join(', ')})`);
  if (validate(obj)) return;
  let shown = JSON.stringify(obj);
  if (shown === undefined) shown = String(obj);
  if (shown.length > 4000) shown = `${shown.slice(0, 4000)}... (${shown.length} chars)`;
  throw new assert.AssertionError({
    message:
      `${what ? `${what}: ` : ''}not a valid ${KINDS[kind]} (OpenAI spec ${path.basename(SPEC_PATH)}):\n` +
      `${formatErrors(validate.errors)}\nobject: ${shown}`,
    actual: obj,
    expected: KINDS[kind],
    operator: 'assertValid',
  });
}

// One Responses stream event against the member of ResponseStreamEvent its
// `type` names (so a failure shows that member's errors, not every
// member's), and then against the whole anyOf.
const eventSchemaOf = new Map();
export function assertValidEvent(ev, what = '') {
  if (!eventSchemaOf.size) {
    const schemas = rawSpec().components.schemas;
    for (const m of schemas.ResponseStreamEvent.anyOf ?? schemas.ResponseStreamEvent.oneOf) {
      const name = m.$ref.split('/').at(-1);
      for (const t of schemas[name].properties?.type?.enum ?? []) eventSchemaOf.set(t, name);
    }
  }
  const name = eventSchemaOf.get(ev?.type);
  assert.ok(name, `${what}: no ResponseStreamEvent has type ${JSON.stringify(ev?.type)}`);
  validatorFor('responseEvent');
  compiled[`event:${name}`] ??= mainAjv.compile({ $ref: `${SPEC_ID}#/components/schemas/${name}` });
  const v = compiled[`event:${name}`];
  if (!v(ev)) {
    throw new assert.AssertionError({
      message: `${what}: not a valid ${name}:\n${formatErrors(v.errors)}\nobject: ${JSON.stringify(ev).slice(0, 3000)}`,
      actual: ev, expected: name, operator: 'assertValidEvent',
    });
  }
  assertValid('responseEvent', ev, what);
}

// One SSE block of a chat completion stream as a client reads it: a ": ping"
// comment, "data: [DONE]", an error chunk or a chunk, each checked against
// the spec. { block, ms } as readSse gives it.
export function parseSseBlock({ block, ms }) {
  if (block === ': ping') return { ping: true, ms };
  assert.ok(block.startsWith('data: ') && !block.includes('\n'), `not one data: line: ${JSON.stringify(block).slice(0, 300)}`);
  const data = block.slice(6);
  if (data === '[DONE]') return { done: true, ms };
  const obj = JSON.parse(data);
  if (obj.error) {
    assertValid('error', obj, 'error chunk');
    return { error: obj.error, ms };
  }
  assertValid('chunk', obj, 'chunk');
  return { chunk: obj, ms };
}
