// The JSON Schema subset Claude's structured outputs take: what the real API
// refuses in output_config.format.schema and in the input_schema of a tool
// with `strict: true`, with the words it refuses it in.
//
// Sources:
// - the Anthropic SDK's own rewrite, which exists because the API refuses the
//   rest: anthropics/anthropic-sdk-typescript src/lib/transform-json-schema.ts
//   (additionalProperties:false on every object; oneOf → anyOf; minItems kept
//   only when 0 or 1; string formats kept only from its SUPPORTED_STRING_FORMATS;
//   every other keyword moved into the description);
// - Anthropic's structured-outputs docs, "JSON Schema limitations": not
//   supported are numerical constraints (minimum, maximum, multipleOf),
//   string constraints (minLength, maxLength), array constraints beyond
//   minItems 0 or 1, and additionalProperties other than false;
//   "If you use an unsupported feature, you'll receive a 400 error with
//   details" (quoted in laravel/ai#715);
// - the live API's words as users quote them, cited rule by rule below.
//
// The real message names the schema parameter only ("output_config.format.schema:"
// or, for the older parameter, "output_format.schema:"), not the path inside it:
// agentjido/req_llm#302 quotes a nested property's `minimum` refused as
// "output_format.schema: For 'integer' type, property 'minimum' is not supported".

// SDK SUPPORTED_STRING_FORMATS; the docs list the same.
const FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'uri', 'ipv4', 'ipv6', 'uuid']);
const NUMBER_KEYWORDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'];
const STRING_KEYWORDS = ['minLength', 'maxLength'];

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const types = (s) => (Array.isArray(s.type) ? s.type : s.type === undefined ? [] : [s.type]);

// The first thing in schema `s` Claude refuses, as "<param>: <message>", or null.
// `param` is how the API names the schema: 'output_config.format.schema',
// 'output_format.schema', or `tools.${i}.custom.input_schema`.
export function schemaProblem(s, param) {
  const seen = new Set();
  const walk = (n) => {
    if (!isObj(n) || seen.has(n)) return null;
    seen.add(n);
    const ts = types(n);
    if (ts.includes('object')) {
      // ax-llm/ax#458, veryfront/veryfront-code#3921 (output_config.format.schema)
      if (n.additionalProperties === undefined) return "For 'object' type, 'additionalProperties' must be explicitly set to false";
      // BerriAI/litellm#35808 quotes it across a line break; one space assumed. // wording not confirmed
      if (n.additionalProperties !== false) return "For 'object' type, 'additionalProperties: true' is not supported. Please set 'additionalProperties' to false";
    }
    for (const t of ts) {
      if (t === 'integer' || t === 'number') {
        // agentjido/req_llm#302 ('integer', 'minimum'); the other keywords by analogy. // wording not confirmed
        for (const k of NUMBER_KEYWORDS) if (k in n) return `For '${t}' type, property '${k}' is not supported`;
      }
      if (t === 'string') {
        for (const k of STRING_KEYWORDS) if (k in n) return `For 'string' type, property '${k}' is not supported`; // wording not confirmed
        if (typeof n.format === 'string' && !FORMATS.has(n.format)) {
          return `For 'string' type, format '${n.format}' is not supported`; // wording not confirmed
        }
      }
      if (t === 'array') {
        // ghostlobster/memorize-everything#93
        if ('minItems' in n && n.minItems !== 0 && n.minItems !== 1) return "For 'array' type, 'minItems' values other than 0 or 1 are not supported";
        if ('maxItems' in n) return "For 'array' type, property 'maxItems' is not supported"; // wording not confirmed
      }
    }
    // The SDK turns oneOf into anyOf; the docs list anyOf and allOf only. // wording not confirmed
    if ('oneOf' in n) return "'oneOf' is not supported, use 'anyOf'";
    const subs = [];
    for (const k of ['properties', '$defs', 'definitions']) if (isObj(n[k])) subs.push(...Object.values(n[k]));
    for (const k of ['anyOf', 'allOf', 'prefixItems']) if (Array.isArray(n[k])) subs.push(...n[k]);
    if (isObj(n.items)) subs.push(n.items);
    for (const x of subs) {
      const p = walk(x);
      if (p) return p;
    }
    return null;
  };
  const p = walk(s);
  return p ? `${param}: ${p}` : null;
}
