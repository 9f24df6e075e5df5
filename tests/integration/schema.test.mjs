// The OpenAI wire-format validators of schema.mjs, checked against real data
// (api.openai.com SSE recordings, the spec's own examples) and against broken
// objects each must reject. Needs no axon stack.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './lib.mjs';
import {
  validateResponse, validateChunk, validateError, validateModel, validateModelList,
  assertValid, rawSpec,
} from './schema.mjs';

const RECORDED = path.resolve(REPO_ROOT, 'tests', 'data', 'spec', 'recorded');

const clone = (o) => structuredClone(o);

// Fails with ajv's errors if `validate` rejects obj.
function accepts(validate, obj, what) {
  assert.ok(validate(obj), `${what} should be valid:\n${JSON.stringify(validate.errors, null, 1)}\n${JSON.stringify(obj)}`);
}

// Fails unless `validate` rejects obj with an error at instancePath.
function rejects(validate, obj, instancePath, what) {
  assert.equal(validate(obj), false, `${what} should be rejected: ${JSON.stringify(obj)}`);
  const paths = validate.errors.map((e) => e.instancePath);
  assert.ok(paths.includes(instancePath),
    `${what}: expected an error at '${instancePath}', got ${JSON.stringify(validate.errors)}`);
}

// Spec example from shared/notes/openai-contract.md §2.1 (CreateChatCompletionResponse).
const EXAMPLE_RESPONSE = {
  id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT', object: 'chat.completion', created: 1741569952, model: 'gpt-5.4',
  choices: [{
    index: 0,
    message: { role: 'assistant', content: 'Hello! How can I assist you today?', refusal: null, annotations: [] },
    logprobs: null, finish_reason: 'stop',
  }],
  usage: {
    prompt_tokens: 19, completion_tokens: 10, total_tokens: 29,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0,
    },
  },
  service_tier: 'default',
};

const CHUNK = {
  id: 'chatcmpl-X', object: 'chat.completion.chunk', created: 1727346168, model: 'gpt-4o-2024-08-06',
  choices: [{ index: 0, delta: { content: 'Hi' }, logprobs: null, finish_reason: null }],
};

const ERROR = { error: { message: 'm', type: 'invalid_request_error', param: null, code: null } };

const MODEL = { id: 'gpt-4o', object: 'model', created: 1686935002, owned_by: 'openai' };

describe('recorded api.openai.com streams pass validateChunk', () => {
  const files = fs.readdirSync(RECORDED).filter((f) => f.endsWith('.sse')).sort();

  it('there are recordings to check', () => {
    assert.ok(files.length >= 12, `expected the 12 recordings in ${RECORDED}, found ${files.length}`);
  });

  for (const file of files) {
    it(file, () => {
      const text = fs.readFileSync(path.join(RECORDED, file), 'utf8');
      const data = text.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart());
      assert.equal(data.at(-1), '[DONE]', 'the stream ends with [DONE]');
      const chunks = data.filter((d) => d !== '[DONE]');
      assert.ok(chunks.length > 0, 'the stream has chunks');
      chunks.forEach((d, i) => assertValid('chunk', JSON.parse(d), `${file} chunk ${i}`));
    });
  }
});

describe('validateResponse', () => {
  it('accepts the spec example of contract notes §2.1', () => {
    assertValid('response', EXAMPLE_RESPONSE);
  });

  it("accepts the spec's own x-oaiMeta example", () => {
    const example = JSON.parse(rawSpec().components.schemas.CreateChatCompletionResponse['x-oaiMeta'].example);
    assertValid('response', example);
  });

  it('accepts a tool-call answer (content null, finish_reason tool_calls)', () => {
    const r = clone(EXAMPLE_RESPONSE);
    r.choices[0].message.content = null;
    r.choices[0].message.tool_calls = [
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    ];
    r.choices[0].finish_reason = 'tool_calls';
    accepts(validateResponse, r, 'tool-call response');
  });

  it("accepts axon's extra fields (conversation_id, message.reasoning_content)", () => {
    const r = clone(EXAMPLE_RESPONSE);
    r.conversation_id = 'conv_123';
    r.choices[0].message.reasoning_content = 'thinking...';
    accepts(validateResponse, r, 'response with extras');
  });

  it('rejects finish_reason "end_turn" (an Anthropic value)', () => {
    const r = clone(EXAMPLE_RESPONSE);
    r.choices[0].finish_reason = 'end_turn';
    rejects(validateResponse, r, '/choices/0/finish_reason', 'end_turn');
  });

  it('rejects finish_reason null (non-streaming choices always have one)', () => {
    const r = clone(EXAMPLE_RESPONSE);
    r.choices[0].finish_reason = null;
    rejects(validateResponse, r, '/choices/0/finish_reason', 'null finish_reason');
  });

  it('rejects usage.prompt_tokens null', () => {
    const r = clone(EXAMPLE_RESPONSE);
    r.usage.prompt_tokens = null;
    rejects(validateResponse, r, '/usage/prompt_tokens', 'null prompt_tokens');
  });

  it('rejects a message without refusal, and a choice without logprobs', () => {
    const r = clone(EXAMPLE_RESPONSE);
    delete r.choices[0].message.refusal;
    rejects(validateResponse, r, '/choices/0/message', 'message without refusal');
    const r2 = clone(EXAMPLE_RESPONSE);
    delete r2.choices[0].logprobs;
    rejects(validateResponse, r2, '/choices/0', 'choice without logprobs');
  });

  it('rejects object "chat.completion.chunk", and created in milliseconds', () => {
    rejects(validateResponse, { ...EXAMPLE_RESPONSE, object: 'chat.completion.chunk' }, '/object', 'chunk object');
    rejects(validateResponse, { ...EXAMPLE_RESPONSE, created: 1741569952000 }, '/created', 'created in ms');
  });

  it('rejects tool_calls whose arguments is an object, not a JSON string', () => {
    const r = clone(EXAMPLE_RESPONSE);
    r.choices[0].message.tool_calls = [
      { id: 'call_1', type: 'function', function: { name: 'f', arguments: { city: 'Paris' } } },
    ];
    rejects(validateResponse, r, '/choices/0/message/tool_calls/0/function/arguments', 'object arguments');
  });
});

describe('validateChunk', () => {
  it('accepts a chunk, usage null (spec 2026 form) and the usage-only chunk', () => {
    accepts(validateChunk, CHUNK, 'content chunk');
    accepts(validateChunk, { ...CHUNK, usage: null }, 'chunk with usage null');
    accepts(validateChunk, {
      ...CHUNK, choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
    }, 'usage-only chunk');
  });

  it("accepts axon's extra fields (conversation_id, delta.reasoning_content)", () => {
    const c = clone(CHUNK);
    c.conversation_id = 'conv_123';
    c.choices[0].delta = { reasoning_content: 'thinking...' };
    accepts(validateChunk, c, 'chunk with extras');
  });

  it('rejects a chunk without choices', () => {
    const c = clone(CHUNK);
    delete c.choices;
    rejects(validateChunk, c, '', 'chunk without choices');
  });

  it('rejects finish_reason "end_turn", and a choice without finish_reason', () => {
    const c = clone(CHUNK);
    c.choices[0].finish_reason = 'end_turn';
    rejects(validateChunk, c, '/choices/0/finish_reason', 'end_turn');
    const c2 = clone(CHUNK);
    delete c2.choices[0].finish_reason;
    rejects(validateChunk, c2, '/choices/0', 'no finish_reason');
  });

  it('rejects usage with prompt_tokens null, and object "chat.completion"', () => {
    rejects(validateChunk, { ...CHUNK, usage: { prompt_tokens: null, completion_tokens: 1, total_tokens: 1 } },
      '/usage/prompt_tokens', 'null prompt_tokens');
    rejects(validateChunk, { ...CHUNK, object: 'chat.completion' }, '/object', 'wrong object');
  });

  it('rejects a tool-call delta without index', () => {
    const c = clone(CHUNK);
    c.choices[0].delta = { tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }] };
    rejects(validateChunk, c, '/choices/0/delta/tool_calls/0', 'tool call without index');
  });
});

describe('validateError', () => {
  it('accepts the envelope, with or without string param/code', () => {
    accepts(validateError, ERROR, 'error envelope');
    accepts(validateError, { error: { ...ERROR.error, param: 'messages', code: 'missing_required_parameter' } },
      'error with param and code');
  });

  it('rejects an error missing param, a bare error object, and a numeric code', () => {
    const e = clone(ERROR);
    delete e.error.param;
    rejects(validateError, e, '/error', 'error without param');
    rejects(validateError, ERROR.error, '', 'unwrapped error');
    rejects(validateError, { error: { ...ERROR.error, code: 400 } }, '/error/code', 'numeric code');
  });
});

describe('validateModel / validateModelList', () => {
  it('accepts a model and a list of models', () => {
    accepts(validateModel, MODEL, 'model');
    accepts(validateModel, JSON.parse(rawSpec().components.schemas.Model['x-oaiMeta'].example), 'spec Model example');
    accepts(validateModelList, { object: 'list', data: [MODEL, { ...MODEL, id: 'claude-x', owned_by: 'axon' }] }, 'list');
  });

  it('rejects a model without owned_by, and a list whose object is not "list"', () => {
    const m = clone(MODEL);
    delete m.owned_by;
    rejects(validateModel, m, '', 'model without owned_by');
    rejects(validateModelList, { object: 'models', data: [MODEL] }, '/object', 'object models');
    rejects(validateModelList, { object: 'list', data: [{ ...MODEL, created: '2024' }] }, '/data/0/created',
      'created as a string');
  });
});

describe('assertValid', () => {
  it('passes a valid object and throws an AssertionError naming the error and the object', () => {
    assertValid('error', ERROR);
    const bad = clone(CHUNK);
    bad.choices[0].finish_reason = 'end_turn';
    assert.throws(() => assertValid('chunk', bad, 'my chunk'), (err) => {
      assert.ok(err instanceof assert.AssertionError, 'an AssertionError');
      assert.match(err.message, /^my chunk: not a valid CreateChatCompletionStreamResponse/);
      assert.match(err.message, /\/choices\/0\/finish_reason must be equal to one of the allowed values/);
      assert.ok(err.message.includes(JSON.stringify(bad)), 'the message shows the object');
      return true;
    });
  });

  it('refuses an unknown kind', () => {
    assert.throws(() => assertValid('nope', {}), /unknown kind 'nope'/);
  });
});
