// GET /v1/models and /v1/models/{id} through each web server, with the
// official SDK: the Claude models and the OpenAI-name aliases of
// etc/models.conf, in OpenAI's Model shape.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { SERVER_NAMES, KEY, stackUrl, originOf, call, assertEnvelope } from './lib.mjs';
import { assertValid } from './schema.mjs';
import { sdk } from './mock.mjs';

// What etc/models.conf declares: each Claude model with its created time,
// and each alias with the model it names.
const conf = readFileSync(new URL('../../etc/models.conf', import.meta.url), 'utf8');
const MODELS = {};
const ALIASES = {};
for (const line of conf.split('\n')) {
  const w = line.replace(/#.*/, '').trim().split(/\s+/);
  if (w[0] === 'model' && w.includes('provider=anthropic')) {
    MODELS[w[1]] = Number(w.find((x) => x.startsWith('created=')).slice(8));
  } else if (w[0] === 'alias') {
    ALIASES[w[1]] = w[2];
  }
}
const NCLAUDE = Object.keys(MODELS).length + Object.keys(ALIASES).length;

for (const server of SERVER_NAMES) {
  describe(`models through ${server}`, () => {
    it('the SDK lists the Claude models and aliases of etc/models.conf, then the vLLM server\'s models', async () => {
      const raw = await call(originOf(stackUrl(server)), '/v1/models', { key: KEY });
      assert.equal(raw.status, 200, raw.text);
      assert.match(raw.headers.get('content-type') ?? '', /^application\/json\b/);
      assertValid('modelList', raw.json, 'GET /v1/models');

      const page = await sdk(server).models.list();
      const all = [];
      for await (const m of page) all.push(m);
      // models.conf's entries first, then what the mock vLLM lists (other
      // tests may add models of their own to it meanwhile).
      const models = all.filter((m) => m.owned_by === 'anthropic');
      assert.ok(NCLAUDE >= 20, `etc/models.conf declares ${NCLAUDE} Claude models and aliases`);
      assert.deepEqual(all.slice(0, NCLAUDE), models, 'the Claude table comes first');
      const served = all.slice(NCLAUDE);
      for (const m of served) {
        assertValid('model', m, m.id);
        assert.equal(m.owned_by, 'vllm', m.id);
      }
      for (const id of ['qwen3-coder', 'Qwen/Qwen3-8B']) assert.ok(served.some((m) => m.id === id), id);
      assert.equal(models.length, NCLAUDE, models.map((m) => m.id).join(', '));
      for (const m of models) {
        assertValid('model', m, m.id);
        assert.equal(m.object, 'model');
        assert.equal(m.owned_by, 'anthropic');
      }
      const byId = Object.fromEntries(models.map((m) => [m.id, m]));
      assert.deepEqual(Object.keys(byId).sort(), [...Object.keys(MODELS), ...Object.keys(ALIASES)].sort());
      for (const [id, created] of Object.entries(MODELS)) {
        assert.equal(byId[id].created, created, `${id} created`);
        assert.ok(!('root' in byId[id]), `${id} is a model, not an alias`);
      }
      for (const [alias, target] of Object.entries(ALIASES)) {
        assert.equal(byId[alias].root, target, `${alias} is answered by ${target}`);
        assert.equal(byId[alias].created, MODELS[target], `${alias} has ${target}'s created`);
      }
    });

    it('GET /v1/models/gpt-4o is the alias, with root claude-sonnet-4-6', async () => {
      const m = await sdk(server).models.retrieve('gpt-4o');
      assertValid('model', m, 'gpt-4o');
      assert.equal(m.id, 'gpt-4o');
      assert.equal(m.object, 'model');
      assert.equal(m.root, 'claude-sonnet-4-6');
      assert.equal(m.created, MODELS['claude-sonnet-4-6']);
      const claude = await sdk(server).models.retrieve('claude-haiku-4-5');
      assertValid('model', claude, 'claude-haiku-4-5');
      assert.deepEqual({ ...claude }, {
        id: 'claude-haiku-4-5', object: 'model', created: MODELS['claude-haiku-4-5'], owned_by: 'anthropic',
      });
    });

    it('GET /v1/models/nope is 404 model_not_found', async () => {
      await assert.rejects(sdk(server).models.retrieve('nope'), (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, String(err));
        assert.equal(err.code, 'model_not_found');
        assertValid('error', { error: err.error });
        return true;
      });
      const res = await call(originOf(stackUrl(server)), '/v1/models/nope', { key: KEY });
      assertEnvelope(res, 404, { type: 'invalid_request_error', code: 'model_not_found' });
      assertValid('error', res.json);
      assert.match(res.json.error.message, /nope/);
      // The alias' dated name is what Claude answers with, not a model id here.
      const dated = await call(originOf(stackUrl(server)), '/v1/models/claude-sonnet-4-6-20260101', { key: KEY });
      assertEnvelope(dated, 404, { code: 'model_not_found' });
    });

    it('GET /v1/models/{id} needs a key like the list', async () => {
      const res = await call(originOf(stackUrl(server)), '/v1/models/gpt-4o');
      assertEnvelope(res, 401, { type: 'invalid_request_error' });
      assertValid('error', res.json);
    });
  });
}
