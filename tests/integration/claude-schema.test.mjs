// JSON Schemas OpenAI accepts, sent to Claude, through each web server with
// the official openai SDK against the mock Claude, which refuses what the
// real API refuses in structured-output and strict-tool schemas
// (tests/mock/schema-rules.mjs). Axon rewrites the schema as the Anthropic
// SDK does (src/claude_schema.c): the constraints Claude does not take
// travel in descriptions, and the answer is checked against the client's
// schema. The mock answers a json_schema request with a value built from
// the schema (strings "Paris", numbers 1, arrays []).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { SERVER_NAMES } from './lib.mjs';
import { assertValid } from './schema.mjs';
import { postStream, recorded, sdk } from './mock.mjs';

let counter = 0;
const newId = (server, tag) => `cschema-${server}-${tag}-${++counter}-${process.pid}`;
const user = (id, text = 'fill it in') => ({ role: 'user', content: `${text} [[mock id=${id}]]` });

async function onlyRecorded(id) {
  const recs = await recorded(id);
  assert.equal(recs.length, 1, `the mock got exactly one request for ${id}`);
  return recs[0].body;
}

// Every object schema in s (properties, items, anyOf, $defs) closed.
function assertClosed(s, where = '#') {
  if (!s || typeof s !== 'object') return;
  const types = Array.isArray(s.type) ? s.type : [s.type];
  if (types.includes('object')) assert.equal(s.additionalProperties, false, `${where} is closed`);
  for (const [k, v] of Object.entries(s.properties ?? {})) assertClosed(v, `${where}/properties/${k}`);
  for (const [k, v] of Object.entries(s.$defs ?? {})) assertClosed(v, `${where}/$defs/${k}`);
  for (const [i, v] of (s.anyOf ?? []).entries()) assertClosed(v, `${where}/anyOf/${i}`);
  if (s.items) assertClosed(s.items, `${where}/items`);
}

// What pydantic (Field(ge=1, le=120), max_length=10, conlist max 3) and zod
// (.min(1).max(120), .max(10), .array().max(3)) emit; OpenAI takes all of it.
const PERSON = {
  type: 'object',
  additionalProperties: false,
  required: ['age', 'name', 'tags', 'kind', 'home'],
  properties: {
    age: { type: 'integer', minimum: 1, maximum: 120, description: 'Age in years' },
    name: { type: 'string', maxLength: 10 },
    tags: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 3 },
    kind: { oneOf: [{ type: 'string', enum: ['a', 'b'] }, { type: 'integer', multipleOf: 2 }] },
    home: { anyOf: [{ $ref: '#/$defs/Place' }, { type: 'null' }] }, // pydantic Optional[Place]
  },
  $defs: {
    Place: { type: 'object', additionalProperties: false, required: ['zip'], properties: { zip: { type: 'string', pattern: '^[0-9]{5}$' } } },
  },
};

for (const server of SERVER_NAMES) {
  describe(`Claude schemas through ${server}`, () => {
    it('structured output with minimum/maxLength/maxItems/oneOf: 200, constraints in descriptions, not keywords', async () => {
      const id = newId(server, 'rf');
      const { data, response } = await sdk(server).chat.completions.create({
        model: 'gpt-4o', messages: [user(id)],
        response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema: PERSON } },
      }).withResponse();
      assertValid('response', data);
      assert.equal(response.headers.get('x-axon-schema-violation'), null);
      assert.deepEqual(JSON.parse(data.choices[0].message.content),
        { age: 1, name: 'Paris', tags: [], kind: 'a', home: null });
      const s = (await onlyRecorded(id)).output_config.format.schema;
      assertClosed(s);
      assert.equal(s.properties.age.minimum, undefined);
      assert.equal(s.properties.age.maximum, undefined);
      assert.equal(s.properties.age.description, 'Age in years\n\n{minimum: 1, maximum: 120}');
      assert.equal(s.properties.name.description, '{maxLength: 10}');
      assert.equal(s.properties.tags.description, '{maxItems: 3}');
      assert.equal(s.properties.tags.items.description, '{minLength: 1}');
      assert.equal(s.properties.kind.oneOf, undefined);
      assert.equal(s.properties.kind.anyOf[1].description, '{multipleOf: 2}');
      assert.deepEqual(s.properties.home, { anyOf: [{ $ref: '#/$defs/Place' }, { type: 'null' }] });
      assert.equal(s.$defs.Place.properties.zip.description, '{pattern: "^[0-9]{5}$"}');
    });

    it('a strict tool: 200, its parameters rewritten the same way; a plain tool keeps its keywords', async () => {
      const id = newId(server, 'tool');
      const completion = await sdk(server).chat.completions.create({
        model: 'gpt-4o', messages: [user(id, 'book it')],
        tools: [
          { type: 'function', function: { name: 'book', strict: true, parameters: {
            type: 'object', additionalProperties: false, required: ['nights', 'guest'],
            properties: { nights: { type: 'integer', minimum: 1, maximum: 30 }, guest: { type: 'object', properties: { name: { type: 'string', minLength: 2 } } } },
          } } },
          { type: 'function', function: { name: 'find', parameters: {
            type: 'object', properties: { n: { type: 'integer', minimum: 1 } },
          } } },
        ],
        tool_choice: { type: 'function', function: { name: 'book' } },
      });
      assertValid('response', completion);
      assert.equal(completion.choices[0].message.tool_calls[0].function.name, 'book');
      const body = await onlyRecorded(id);
      const strict = body.tools[0];
      assert.equal(strict.strict, true);
      assertClosed(strict.input_schema);
      assert.equal(strict.input_schema.properties.nights.minimum, undefined);
      assert.equal(strict.input_schema.properties.nights.description, '{minimum: 1, maximum: 30}');
      assert.equal(strict.input_schema.properties.guest.properties.name.description, '{minLength: 2}');
      assert.deepEqual(body.tools[1].input_schema.properties.n, { type: 'integer', minimum: 1 });
      assert.equal(body.tools[1].strict, undefined);
    });

    // The mock's 1 breaks maximum 0: Claude did not enforce it, Axon does.
    const BROKEN = { type: 'object', additionalProperties: false, required: ['n'], properties: { n: { type: 'integer', maximum: 0 } } };

    it('strict: an answer that breaks a moved constraint is a 502 schema_violation (non-stream and stream)', async () => {
      const id = newId(server, 'strict-bad');
      await assert.rejects(
        sdk(server).chat.completions.create({
          model: 'gpt-4o', messages: [user(id)],
          response_format: { type: 'json_schema', json_schema: { name: 'n', strict: true, schema: BROKEN } },
        }),
        (err) => {
          assert.ok(err instanceof OpenAI.APIError, String(err));
          assert.equal(err.status, 502);
          assert.equal(err.code, 'schema_violation');
          assert.match(err.message, /#\/n maximum/);
          return true;
        });
      const sid = newId(server, 'strict-bad-s');
      const res = await postStream(server, {
        model: 'gpt-4o', stream: true, messages: [user(sid)],
        response_format: { type: 'json_schema', json_schema: { name: 'n', strict: true, schema: BROKEN } },
      });
      assert.equal(res.status, 200);
      const text = await res.text();
      const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
      assert.equal(data.at(-1), '[DONE]');
      const last = JSON.parse(data.at(-2));
      assertValid('error', last);
      assert.equal(last.error.code, 'schema_violation');
      assert.ok(!data.slice(0, -2).some((d) => JSON.parse(d).choices?.[0]?.finish_reason), 'no finish_reason before the error');
    });

    it('a strict tool call that breaks a moved constraint is a 502 schema_violation naming the tool', async () => {
      const id = newId(server, 'tool-bad');
      await assert.rejects(
        sdk(server).chat.completions.create({
          model: 'gpt-4o', messages: [user(id, 'book it')],
          tools: [{ type: 'function', function: { name: 'book', strict: true, parameters: BROKEN } }],
        }),
        (err) => {
          assert.ok(err instanceof OpenAI.APIError, String(err));
          assert.equal(err.status, 502);
          assert.equal(err.code, 'schema_violation');
          assert.equal(err.param, 'tools');
          assert.match(err.message, /tool book #\/n maximum/);
          return true;
        });
    });

    it('a schema past the nesting cap is a 400 naming the parameter, and Claude is not called', async () => {
      const id = newId(server, 'deep');
      let deep = { type: 'string' };
      for (let i = 0; i < 40; i++) deep = { type: 'array', items: deep };
      await assert.rejects(
        sdk(server).chat.completions.create({
          model: 'gpt-4o', messages: [user(id)],
          response_format: { type: 'json_schema', json_schema: { name: 'deep', schema: { type: 'object', properties: { d: deep } } } },
        }),
        (err) => {
          assert.equal(err.status, 400);
          assert.equal(err.param, 'response_format.json_schema.schema');
          assert.match(err.message, /nests schemas more than 32 deep/);
          return true;
        });
      assert.equal((await recorded(id)).length, 0);
    });

    it('not strict: the answer goes out, with x-axon-schema-violation naming where', async () => {
      const id = newId(server, 'loose-bad');
      const { data, response } = await sdk(server).chat.completions.create({
        model: 'gpt-4o', messages: [user(id)],
        response_format: { type: 'json_schema', json_schema: { name: 'n', schema: BROKEN } },
      }).withResponse();
      assertValid('response', data);
      assert.deepEqual(JSON.parse(data.choices[0].message.content), { n: 1 });
      assert.equal(response.headers.get('x-axon-schema-violation'), '#/n maximum');
    });
  });
}
