// The client cases tests/clients/run.mjs runs under Node 22: each takes
// { baseURL, apiKey, model, prompt } and returns a JSON-able result.
//
// The clients are used the way their documentation shows a new user:
//  - Vercel AI SDK (`ai` + `@ai-sdk/openai`): createOpenAI({ baseURL, apiKey });
//    provider(model) speaks the Responses API (its default since AI SDK 5),
//    provider.chat(model) speaks chat completions;
//  - OpenAI Agents SDK (`@openai/agents`): its default model speaks the
//    Responses API; OpenAIChatCompletionsModel speaks chat completions.
// Each tool case has one tool, get_weather(city), whose execute runs here and
// returns `sunny-in-<city>`, so the final answer shows the tool's result went
// round (the mocks answer a tool result with "The tool said: <result>").
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText, tool as aiTool, stepCountIs } from 'ai';
import {
  Agent, run, tool as agentTool, setDefaultOpenAIClient, setOpenAIAPI, setTracingDisabled,
  OpenAIChatCompletionsModel,
} from '@openai/agents';
import OpenAI from 'openai';
import { z } from 'zod';

// Long enough for a tool call and the answer to it, bounded so a client that
// loops (e.g. a gateway answering every turn with a tool call) stops.
const MAX_STEPS = 5;

const toolOutput = (city) => `sunny-in-${city}`;

// The AI SDK's get_weather; runs records each execution.
function aiWeather(runs) {
  return aiTool({
    description: 'Get the current weather in a city.',
    inputSchema: z.object({ city: z.string().describe('The city') }),
    execute: async ({ city }) => {
      runs.push(city);
      return toolOutput(city);
    },
  });
}

function aiModel({ baseURL, apiKey, model }, api) {
  // maxRetries is a call setting (below); the provider takes no retry option.
  const provider = createOpenAI({ baseURL, apiKey });
  return api === 'chat' ? provider.chat(model) : provider(model);
}

function stepsOf(steps) {
  return steps.map((s) => ({
    finishReason: s.finishReason,
    text: s.text,
    toolCalls: s.toolCalls.map((c) => ({ name: c.toolName, input: c.input })),
    toolResults: s.toolResults.map((r) => ({ name: r.toolName, output: r.output })),
  }));
}

async function aiGenerate(args, api, withTools) {
  const runs = [];
  const r = await generateText({
    model: aiModel(args, api),
    prompt: args.prompt,
    maxRetries: 0,
    ...(withTools && { tools: { get_weather: aiWeather(runs) }, stopWhen: stepCountIs(MAX_STEPS) }),
  });
  return { text: r.text, finishReason: r.finishReason, steps: stepsOf(r.steps), toolRuns: runs, usage: r.usage };
}

async function aiStream(args, api, withTools) {
  const runs = [];
  const errors = [];
  const r = streamText({
    model: aiModel(args, api),
    prompt: args.prompt,
    maxRetries: 0,
    onError: ({ error }) => { errors.push(error); },
    ...(withTools && { tools: { get_weather: aiWeather(runs) }, stopWhen: stepCountIs(MAX_STEPS) }),
  });
  const deltas = [];
  for await (const d of r.textStream) deltas.push(d);
  if (errors.length) throw errors[0];
  return {
    text: await r.text, deltas, finishReason: await r.finishReason,
    steps: stepsOf(await r.steps), toolRuns: runs, usage: await r.usage,
  };
}

// The Agents SDK: an agent with get_weather. api 'responses' is the SDK's
// default (setOpenAIAPI is called only to say so); 'chat' uses
// OpenAIChatCompletionsModel, the SDK's chat-completions model.
async function agentRun({ baseURL, apiKey, model, prompt }, api) {
  setTracingDisabled(true);
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  const runs = [];
  const getWeather = agentTool({
    name: 'get_weather',
    description: 'Get the current weather in a city.',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      runs.push(city);
      return toolOutput(city);
    },
  });
  let agentModel = model;
  if (api === 'chat') {
    agentModel = new OpenAIChatCompletionsModel(client, model);
  } else {
    setDefaultOpenAIClient(client);
    setOpenAIAPI('responses');
  }
  const agent = new Agent({
    name: 'Weather agent',
    instructions: 'Answer questions about the weather; use get_weather.',
    model: agentModel,
    tools: [getWeather],
  });
  const r = await run(agent, prompt, { maxTurns: MAX_STEPS });
  return {
    text: r.finalOutput,
    toolRuns: runs,
    items: r.newItems.map((i) => i.type),
  };
}

export const CASES = {
  'aisdk-chat-generate': (a) => aiGenerate(a, 'chat', false),
  'aisdk-chat-stream': (a) => aiStream(a, 'chat', false),
  'aisdk-chat-tools': (a) => aiGenerate(a, 'chat', true),
  'aisdk-chat-tools-stream': (a) => aiStream(a, 'chat', true),
  'aisdk-responses-generate': (a) => aiGenerate(a, 'responses', false),
  'aisdk-responses-stream': (a) => aiStream(a, 'responses', false),
  'aisdk-responses-tools': (a) => aiGenerate(a, 'responses', true),
  'aisdk-responses-tools-stream': (a) => aiStream(a, 'responses', true),
  'agents-chat': (a) => agentRun(a, 'chat'),
  'agents-responses': (a) => agentRun(a, 'responses'),
};
