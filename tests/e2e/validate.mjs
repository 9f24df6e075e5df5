// Schema validator for tests/e2e/run.sh, run as a bash co-process (one node
// process for the whole run, so validating a body costs a pipe round trip,
// not a node start-up).
//
// Protocol, one request per line on stdin:   KIND<TAB>PATH
// and one answer per line on stdout:          ok   |   err <reason on one line>
//
// KIND is one of
//   response   CreateChatCompletionResponse   (the file holds one JSON object)
//   error      ErrorResponse
//   model      Model
//   modelList  ListModelsResponse
//   sse        a raw text/event-stream body: every "data: " payload except
//              [DONE] must be JSON; objects with an "error" key are checked as
//              ErrorResponse (an in-stream error), all others as
//              CreateChatCompletionStreamResponse
//
// The schemas come from the official OpenAI spec through
// tests/integration/schema.mjs (imported read-only): the spec as published,
// with only OpenAPI's `nullable`/`x-*` translated, and no
// additionalProperties:false anywhere the validators reach, so Axon's
// documented extensions (conversation_id, reasoning_content, ...) are valid,
// as they are for OpenAI's SDKs.
import fs from 'node:fs';
import readline from 'node:readline';
import { assertValid } from '../integration/schema.mjs';

const KINDS = new Set(['response', 'error', 'model', 'modelList']);
const oneLine = (s) => String(s).replace(/\s+/g, ' ').slice(0, 600);

function check(kind, file) {
  const text = fs.readFileSync(file, 'utf8');
  if (KINDS.has(kind)) {
    let obj;
    try { obj = JSON.parse(text); } catch (e) { return `not JSON (${e.message}): ${text.slice(0, 120)}`; }
    assertValid(kind, obj, file.replace(/^.*\//, ''));
    return null;
  }
  if (kind === 'sse') {
    let k = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith('data: ')) continue;
      const data = line.slice(6);
      if (data === '[DONE]') continue;
      let obj;
      try { obj = JSON.parse(data); } catch (e) { return `event ${k} is not JSON: ${data.slice(0, 120)}`; }
      assertValid(obj && obj.error ? 'error' : 'chunk', obj, `event ${k}`);
      k++;
    }
    if (k === 0) return 'no data: events';
    return null;
  }
  return `unknown kind ${kind}`;
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => {
  const tab = line.indexOf('\t');
  let answer;
  try {
    const problem = check(line.slice(0, tab), line.slice(tab + 1));
    answer = problem ? `err ${oneLine(problem)}` : 'ok';
  } catch (e) {
    answer = `err ${oneLine(e.message)}`;
  }
  process.stdout.write(`${answer}\n`);
});
rl.on('close', () => process.exit(0));
