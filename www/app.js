// Axon playground: plain JavaScript, no build step, no third-party code.
//
// Rules this file keeps:
// - Every URL is relative to the page's own directory (apiUrl), never "/v1/...",
//   so Axon can be served under a path prefix (page at /axon/, API at /axon/v1/).
// - The API key lives in sessionStorage only (never localStorage, never a cookie).
// - Text from the API or the user reaches the page through textContent (or text
//   nodes), never innerHTML.
'use strict';

(() => {
  const KEY_STORE = 'axon.playground.apiKey';     // sessionStorage
  const MODEL_STORE = 'axon.playground.model';    // sessionStorage
  const MODE_STORE = 'axon.playground.api';       // sessionStorage: "chat" or "responses"
  const ITEMS_SHOWN = 100;                         // the items panel shows the latest 100
  const STATS_EVERY_MS = 2000;
  const CHART_WINDOW_MS = 5 * 60 * 1000;

  // The tiny built-in tool the user can offer the model ("Example tool").
  const EXAMPLE_TOOL = {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Get the current weather in a city (the playground makes the answer up).',
      parameters: {
        type: 'object',
        properties: {
          city: { type: 'string', description: 'City name, e.g. Paris' },
          unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['city'],
      },
    },
  };

  const $ = (id) => document.getElementById(id);
  const ui = {
    health: $('health'), keyForm: $('key-form'), key: $('api-key'), keyForget: $('key-forget'),
    model: $('model'), thinking: $('thinking'), effortField: $('effort-field'), effort: $('effort'),
    tools: $('tools'), mode: $('api-mode'), notice: $('notice'), newChat: $('new-chat'), convsRefresh: $('convs-refresh'),
    convsStatus: $('convs-status'), convs: $('convs'), convsMore: $('convs-more'), convId: $('conv-id'),
    log: $('log'), composer: $('composer'), prompt: $('prompt'), send: $('send'), stop: $('stop'),
    chart: $('pool-chart'), lineIdle: $('line-idle'), lineBusy: $('line-busy'),
    chartRange: $('chart-range'), stats: $('stats'), statsStatus: $('stats-status'),
    items: $('conv-items'), itemsStatus: $('items-status'), respStored: $('resp-stored'),
    respSummary: $('resp-summary'), respInput: $('resp-input-items'),
  };

  const state = {
    key: '',
    models: [],          // /v1/models data
    convId: null,        // the conversation being continued, or null for a new one
    // The Responses turn at the conversation's tip: the next Responses turn
    // continues it with previous_response_id. Null after a chat turn or when a
    // conversation is opened from the list: the next Responses turn then names
    // the conversation instead (both continue the same stored history).
    prevResponseId: null,
    lastResponseId: null, // the stored response the panel shows (the last turn's, if a Responses one)
    storeSeq: 0,          // ignore stale panel answers
    busy: false,
    controller: null,    // AbortController of the running chat request
    convAfter: null,     // pagination cursor of the conversation list
    convSeq: 0,          // ignore stale list answers
    samples: [],         // {t, idle, busy, size} from /stats
  };

  // ---- small helpers -------------------------------------------------------

  function apiUrl(path) {
    return new URL(path, document.baseURI).href;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function storeGet(name) {
    try { return window.sessionStorage.getItem(name) || ''; } catch { return ''; }
  }
  function storeSet(name, value) {
    try {
      if (value) window.sessionStorage.setItem(name, value);
      else window.sessionStorage.removeItem(name);
    } catch { /* storage disabled: the key lives in memory only */ }
  }

  function fmtTime(unixSeconds) {
    if (typeof unixSeconds !== 'number') return '';
    const d = new Date(unixSeconds * 1000);
    const sameDay = d.toDateString() === new Date().toDateString();
    return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }

  function fmtNum(v) {
    return typeof v === 'number' ? v.toLocaleString('en-US') : (v === null || v === undefined ? '–' : String(v));
  }

  // ---- errors, as the API phrased them -------------------------------------

  class ApiError extends Error {
    constructor({ message, type = null, code = null, param = null, status = null }) {
      super(message);
      this.type = type; this.code = code; this.param = param; this.status = status;
    }
  }

  // The OpenAI envelope {"error":{"message","type","param","code"}}, from an
  // answer body or from an error chunk inside a stream.
  function errorFromBody(obj, status) {
    if (obj && typeof obj === 'object') {
      const e = obj.error;
      if (e && typeof e === 'object') {
        return new ApiError({
          message: typeof e.message === 'string' ? e.message : JSON.stringify(e),
          type: e.type ?? null, code: e.code ?? null, param: e.param ?? null, status,
        });
      }
      if (typeof e === 'string') return new ApiError({ message: e, status });
    }
    return null;
  }

  async function errorFromResponse(res) {
    let text = '';
    try { text = await res.text(); } catch { /* body unreadable */ }
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return errorFromBody(json, res.status) || new ApiError({
      message: `HTTP ${res.status} ${res.statusText}${text ? ': ' + text.slice(0, 300) : ''}`,
      status: res.status,
    });
  }

  function errorBox(err, context) {
    const box = el('div', 'error');
    box.setAttribute('role', 'alert');
    if (context) box.append(el('strong', 'error-context', context + ': '));
    box.append(el('span', 'error-message', err && err.message ? err.message : String(err)));
    const meta = [];
    if (err && err.type) meta.push('type: ' + err.type);
    if (err && err.code !== null && err.code !== undefined) meta.push('code: ' + err.code);
    if (err && err.param) meta.push('param: ' + err.param);
    if (err && err.status) meta.push('HTTP ' + err.status);
    if (meta.length) box.append(el('span', 'error-meta', meta.join(' · ')));
    return box;
  }

  function showNotice(err, context) {
    const box = errorBox(err, context);
    const close = el('button', 'secondary notice-close', 'Dismiss');
    close.type = 'button';
    close.addEventListener('click', clearNotice);
    box.append(' ', close);
    ui.notice.replaceChildren(...box.childNodes);
    ui.notice.hidden = false;
  }
  function clearNotice() {
    ui.notice.hidden = true;
    ui.notice.replaceChildren();
  }

  // ---- HTTP ------------------------------------------------------------------

  async function api(path, { method = 'GET', body, signal, accept = 'application/json' } = {}) {
    if (!state.key) throw new ApiError({ message: 'Enter an API key first.' });
    const headers = { Accept: accept, Authorization: 'Bearer ' + state.key };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(apiUrl(path), {
        method, headers, signal, cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError({ message: 'Network error: ' + (e && e.message ? e.message : e) });
    }
    if (!res.ok) throw await errorFromResponse(res);
    return res;
  }

  // Server-sent events from a fetch body: yields each event's data (data:
  // lines joined by "\n"). Handles any chunk boundary, LF, CRLF and CR line
  // ends and comments (": ping").
  async function* sseData(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';           // the unfinished line
    let pendingCR = false;  // the last chunk ended in CR: a leading LF belongs to it
    let data = [];          // data: lines of the event being read
    const takeLine = (line) => {
      if (line === '') {                                   // blank line: dispatch
        if (!data.length) return null;
        const d = data.join('\n');
        data = [];
        return d;
      }
      if (line[0] === ':') return null;                    // comment, e.g. ": ping"
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'data') data.push(value);
      return null;
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        let text = done ? decoder.decode() : decoder.decode(value, { stream: true });
        if (pendingCR && text[0] === '\n') text = text.slice(1);
        if (text) pendingCR = false;
        buf += text;
        let start = 0;
        for (let i = 0; i < buf.length; i++) {
          const c = buf.charCodeAt(i);
          if (c !== 10 && c !== 13) continue;
          const line = buf.slice(start, i);
          if (c === 13) {
            if (i + 1 < buf.length) { if (buf.charCodeAt(i + 1) === 10) i++; } else pendingCR = true;
          }
          start = i + 1;
          const d = takeLine(line);
          if (d !== null) yield d;
        }
        buf = buf.slice(start);
        // At the end an unfinished event is dropped, as the SSE rules say.
        if (done) return;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  // ---- messages in the log -----------------------------------------------------

  function scrollLog() {
    const log = ui.log;
    if (log.scrollHeight - log.scrollTop - log.clientHeight < 120) log.scrollTop = log.scrollHeight;
  }

  function contentText(content) {
    if (typeof content === 'string') return content;
    if (!Array.isArray(content)) return '';
    return content.map((p) => {
      if (!p || typeof p !== 'object') return '';
      if (p.type === 'text') return typeof p.text === 'string' ? p.text : '';
      if (p.type === 'image_url') return '[image]';
      if (p.type === 'file') return `[file${p.file && p.file.filename ? ': ' + p.file.filename : ''}]`;
      if (p.type === 'input_audio') return '[audio]';
      return `[${p.type}]`;
    }).join('\n');
  }

  function roleLine(role, extra) {
    const d = el('div', 'role');
    d.append(el('span', 'role-name', role));
    if (extra) d.append(' · ', el('span', 'role-extra', extra));
    return d;
  }

  function plainMessage(role, text) {
    const art = el('article', 'msg ' + (['user', 'system', 'developer'].includes(role) ? role : 'other'));
    art.dataset.role = role;
    art.append(roleLine(role), el('div', 'content', text));
    ui.log.append(art);
    scrollLog();
    return art;
  }

  function toolMessage(callId, content) {
    const art = el('article', 'msg tool');
    art.dataset.role = 'tool';
    art.append(roleLine('tool result', callId ? 'for ' + callId : ''), el('pre', 'content', content));
    ui.log.append(art);
    scrollLog();
    return art;
  }

  // An assistant message, filled delta by delta (or at once from history).
  function assistantView() {
    const art = el('article', 'msg assistant');
    art.dataset.role = 'assistant';
    art.dataset.state = 'streaming';
    const reasoning = el('details', 'reasoning');
    reasoning.open = true;
    reasoning.hidden = true;
    const reasoningText = document.createTextNode('');
    const rt = el('div', 'reasoning-text');
    rt.append(reasoningText);
    reasoning.append(el('summary', null, 'Reasoning'), rt);
    const content = el('div', 'content');
    const contentNode = document.createTextNode('');
    content.append(contentNode);
    const tools = el('div', 'tool-calls');
    const footer = el('div', 'usage');
    footer.hidden = true;
    const finish = el('div', 'finish');
    finish.hidden = true;
    const actions = el('div', 'row actions');
    art.append(roleLine('assistant'), reasoning, content, tools, finish, footer, actions);

    const calls = [];   // by tool call index: {id, name, args, view}
    const view = {
      art, calls, failed: false, finishReason: null,
      addReasoning(s) {
        reasoning.hidden = false;
        reasoningText.appendData(s);
        scrollLog();
      },
      addContent(s) {
        contentNode.appendData(s);
        scrollLog();
      },
      toolDelta(tc) {
        const i = Number.isInteger(tc.index) ? tc.index : calls.length;
        let c = calls[i];
        if (!c) {
          const box = el('div', 'tool-call');
          const name = el('span', 'tool-name');
          const id = el('span', 'tool-id muted');
          const args = el('pre', 'tool-args');
          const argsNode = document.createTextNode('');
          args.append(argsNode);
          box.append(el('span', null, 'Tool call '), name, ' ', id, args);
          tools.append(box);
          c = calls[i] = { id: '', name: '', args: '', nameEl: name, idEl: id, argsNode };
        }
        if (typeof tc.id === 'string' && tc.id) { c.id = tc.id; c.idEl.textContent = tc.id; }
        const f = tc.function || {};
        if (typeof f.name === 'string' && f.name) { c.name += f.name; c.nameEl.textContent = c.name; }
        if (typeof f.arguments === 'string' && f.arguments) { c.args += f.arguments; c.argsNode.appendData(f.arguments); }
        scrollLog();
      },
      setUsage(u) {
        if (!u || typeof u !== 'object') return;
        footer.hidden = false;
        footer.replaceChildren();
        const parts = [
          ['prompt', u.prompt_tokens], ['completion', u.completion_tokens], ['total', u.total_tokens],
        ];
        // The Responses API names them input / output.
        if (u.input_tokens !== undefined || u.output_tokens !== undefined) {
          parts[0] = ['input', u.input_tokens];
          parts[1] = ['output', u.output_tokens];
        }
        footer.append('Tokens: ');
        parts.forEach(([name, v], i) => {
          const s = el('span', 'usage-' + name, `${name} ${fmtNum(v)}`);
          s.dataset.value = String(v);
          footer.append(s);
          if (i < parts.length - 1) footer.append(' · ');
        });
        const details = u.completion_tokens_details || u.output_tokens_details;
        const r = details && details.reasoning_tokens;
        if (r) footer.append(` (reasoning ${fmtNum(r)})`);
      },
      setFinish(reason) {
        view.finishReason = reason;
        if (reason && reason !== 'stop') {
          finish.hidden = false;
          finish.textContent = 'finish_reason: ' + reason;
        }
      },
      // A Responses turn's closing Response: its id on the message, and a
      // status other than completed shown as finish_reason is for chat.
      setResponse(r) {
        if (typeof r.id === 'string') {
          art.dataset.responseId = r.id;
          const idEl = el('span', 'response-id muted', r.id);
          art.firstChild.append(' · ', idEl);
        }
        if (r.status && r.status !== 'completed') {
          finish.hidden = false;
          const why = r.incomplete_details && r.incomplete_details.reason;
          finish.textContent = 'status: ' + r.status + (why ? ' (' + why + ')' : '');
        }
        if (Array.isArray(r.output) && r.output.some((it) => it && it.type === 'function_call')) {
          view.finishReason = 'tool_calls';
        }
      },
      setError(err) {
        view.failed = true;
        art.dataset.state = 'error';
        art.append(errorBox(err));
        scrollLog();
      },
      end(how) {
        if (art.dataset.state === 'streaming') art.dataset.state = how || 'done';
      },
      actions,
    };
    return view;
  }

  function renderStored(m) {
    if (!m || typeof m !== 'object') return;
    if (m.role === 'assistant') {
      ui.log.append(assistantViewFrom(m).art);
    } else if (m.role === 'tool') {
      toolMessage(m.tool_call_id, contentText(m.content));
    } else {
      plainMessage(String(m.role || 'unknown'), contentText(m.content));
    }
  }

  function assistantViewFrom(m) {
    const v = assistantView();
    const r = typeof m.reasoning_content === 'string' ? m.reasoning_content
      : (typeof m.reasoning === 'string' ? m.reasoning : '');
    if (r) v.addReasoning(r);
    const text = contentText(m.content);
    if (text) v.addContent(text);
    if (Array.isArray(m.tool_calls)) m.tool_calls.forEach((tc, i) => v.toolDelta({ ...tc, index: i }));
    v.end('done');
    return v;
  }

  // ---- the example tool --------------------------------------------------------

  function runExampleTool(name, argsText) {
    if (name !== EXAMPLE_TOOL.function.name) return { error: `The playground has no tool named ${name}.` };
    let args;
    try { args = JSON.parse(argsText || '{}'); } catch { return { error: 'The arguments are not valid JSON.' }; }
    const city = args && typeof args.city === 'string' && args.city.trim() ? args.city.trim() : 'Nowhere';
    const unit = args && args.unit === 'fahrenheit' ? 'fahrenheit' : 'celsius';
    let h = 7;
    for (const ch of city.toLowerCase()) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    const celsius = 4 + (h % 26);
    return {
      city, unit,
      temperature: unit === 'fahrenheit' ? Math.round(celsius * 9 / 5 + 32) : celsius,
      conditions: ['sunny', 'cloudy', 'light rain', 'windy'][h % 4],
      note: 'made up by the Axon playground',
    };
  }

  function offerToolRun(view) {
    const calls = view.calls.filter(Boolean);
    if (!calls.length || !calls.every((c) => c.id)) return;
    const b = el('button', 'secondary run-tool', calls.length > 1
      ? `Run the ${calls.length} example tool calls and send the results`
      : `Run ${calls[0].name || 'the tool'} and send the result`);
    b.type = 'button';
    b.addEventListener('click', () => {
      if (state.busy) return;
      b.disabled = true;
      const msgs = calls.map((c) => ({
        role: 'tool', tool_call_id: c.id, content: JSON.stringify(runExampleTool(c.name, c.args)),
      }));
      send(msgs).finally(() => { if (view.art.isConnected) b.remove(); });
    });
    view.actions.append(b);
  }

  // ---- models --------------------------------------------------------------

  function modelInfo(id) {
    return state.models.find((m) => m.id === id) || null;
  }

  function isClaude(id) {
    const m = modelInfo(id);
    return !!m && m.owned_by === 'anthropic';
  }

  function updateEffort() {
    ui.effortField.hidden = !(ui.thinking.checked && isClaude(ui.model.value));
  }

  async function loadModels() {
    const previous = ui.model.value || storeGet(MODEL_STORE);
    try {
      const res = await api('v1/models');
      const j = await res.json();
      const data = Array.isArray(j && j.data) ? j.data.filter((m) => m && typeof m.id === 'string') : [];
      state.models = data;
      const groups = new Map();
      for (const m of data) {
        const owner = typeof m.owned_by === 'string' ? m.owned_by : 'other';
        if (!groups.has(owner)) groups.set(owner, []);
        groups.get(owner).push(m);
      }
      const children = [];
      for (const [owner, ms] of groups) {
        const g = document.createElement('optgroup');
        g.label = owner;
        for (const m of ms) {
          const o = el('option', null, m.root && m.root !== m.id ? `${m.id} → ${m.root}` : m.id);
          o.value = m.id;
          g.append(o);
        }
        children.push(g);
      }
      if (!data.length) children.push(el('option', null, 'no models'));
      ui.model.replaceChildren(...children);
      if (previous && modelInfo(previous)) ui.model.value = previous;
      ui.model.disabled = !data.length;
      ui.model.dataset.loaded = String(data.length);
      updateEffort();
      return true;
    } catch (err) {
      // Keep a list loaded earlier: a mistyped key should not empty the picker.
      if (!state.models.length) {
        ui.model.replaceChildren(el('option', null, 'could not load models'));
        ui.model.disabled = true;
      }
      showNotice(err, 'GET v1/models');
      return false;
    }
  }

  // ---- chat ----------------------------------------------------------------

  function setBusy(busy) {
    state.busy = busy;
    ui.send.disabled = busy;
    ui.stop.disabled = !busy;
    ui.newChat.disabled = busy;
    for (const b of ui.log.querySelectorAll('button.run-tool')) b.disabled = busy;
  }

  function setConversation(id) {
    state.convId = id;
    ui.convId.textContent = id || 'new';
    for (const li of ui.convs.children) li.classList.toggle('current', li.dataset.id === id);
  }

  function newChat() {
    if (state.busy) return;
    setConversation(null);
    state.prevResponseId = null;
    state.lastResponseId = null;
    clearStore();
    ui.log.replaceChildren();
    ui.prompt.focus();
  }

  function handleChunk(view, chunk) {
    const err = errorFromBody(chunk, null);
    if (err) { view.setError(err); return; }
    if (typeof chunk.conversation_id === 'string') {
      if (chunk.conversation_id.startsWith('conv-unstored-')) {
        // Valkey could not store it: continuing would be a 404, so the next
        // message starts afresh (and says so).
        setConversation(null);
        ui.convId.textContent = chunk.conversation_id + ' (not stored: the next message starts a new conversation)';
      } else {
        setConversation(chunk.conversation_id);
      }
    }
    if (chunk.usage) view.setUsage(chunk.usage);
    if (!Array.isArray(chunk.choices)) return;
    for (const ch of chunk.choices) {
      if (!ch || (ch.index !== undefined && ch.index !== 0)) continue;   // the page asks for one choice
      const d = ch.delta || {};
      // Axon sends reasoning as reasoning_content; "reasoning" (vLLM >= 0.11's
      // name) is read too, never both for one delta.
      const r = typeof d.reasoning_content === 'string' ? d.reasoning_content
        : (typeof d.reasoning === 'string' ? d.reasoning : '');
      if (r) view.addReasoning(r);
      if (typeof d.content === 'string' && d.content) view.addContent(d.content);
      if (Array.isArray(d.tool_calls)) for (const tc of d.tool_calls) if (tc) view.toolDelta(tc);
      if (ch.finish_reason) view.setFinish(ch.finish_reason);
    }
  }

  // The Responses stream's named events (docs/responses.md, "Stream events").
  // ctx.final gets the closing Response (completed, incomplete or failed).
  function handleResponseEvent(view, ev, ctx) {
    if (!ev || typeof ev !== 'object') return;
    const item = ev.item && typeof ev.item === 'object' ? ev.item : null;
    switch (ev.type) {
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        if (typeof ev.delta === 'string') view.addContent(ev.delta);
        break;
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        if (typeof ev.delta === 'string') view.addReasoning(ev.delta);
        break;
      case 'response.output_item.added':
        // A function call starts with its name and call_id; its arguments follow as deltas.
        if (item && item.type === 'function_call') {
          view.toolDelta({ index: ev.output_index, id: item.call_id,
            function: { name: item.name, arguments: item.arguments } });
        }
        break;
      case 'response.function_call_arguments.delta':
        if (typeof ev.delta === 'string') view.toolDelta({ index: ev.output_index, function: { arguments: ev.delta } });
        break;
      case 'response.completed':
      case 'response.incomplete':
        ctx.final = ev.response || null;
        break;
      case 'response.failed': {
        ctx.final = ev.response || null;
        const e = ctx.final && ctx.final.error;
        // The error event before it has said it already.
        if (!view.failed) view.setError(new ApiError({ message: e && e.message ? e.message : 'The response failed.', code: e ? e.code : null }));
        break;
      }
      case 'error': {
        const e = ev.error && typeof ev.error === 'object' ? ev.error : ev;
        view.setError(new ApiError({
          message: typeof e.message === 'string' ? e.message : JSON.stringify(e),
          type: e.type ?? null, code: e.code ?? null, param: e.param ?? null,
        }));
        break;
      }
      default:
        break;      // created, in_progress, part and item boundaries: nothing to draw
    }
  }

  // The body of a chat completions turn.
  function chatBody(model, messages) {
    const body = {
      model,
      stream: true,
      stream_options: { include_usage: true },
      messages,
      // "new" starts a stored conversation whatever AXON_STORE says.
      conversation_id: state.convId || 'new',
    };
    if (ui.thinking.checked) {
      // thinking: true works for every model (Claude extended thinking, or the
      // OpenAI-compatible servers' chat_template_kwargs.enable_thinking); for
      // Claude an effort picks the budget through reasoning_effort instead.
      if (isClaude(model) && ui.effort.value) body.reasoning_effort = ui.effort.value;
      else body.thinking = true;
    }
    if (ui.tools.checked) body.tools = [EXAMPLE_TOOL];
    return body;
  }

  // The body of a Responses turn: the same turn as input items. It continues
  // the last Responses turn with previous_response_id, else the open
  // conversation by name; the first turn starts a stored one (store defaults to true).
  function responsesBody(model, messages) {
    const input = messages.map((m) => (m.role === 'tool'
      ? { type: 'function_call_output', call_id: m.tool_call_id, output: m.content }
      : { role: m.role, content: m.content }));
    const body = { model, stream: true, input };
    if (state.prevResponseId) body.previous_response_id = state.prevResponseId;
    else if (state.convId) body.conversation = state.convId;
    if (ui.thinking.checked) {
      // The Responses API has no thinking: true; an effort turns reasoning on
      // (Claude: medium is the 4096-token budget thinking: true gives), and
      // the summary asks for the reasoning text to be shown.
      body.reasoning = { effort: (isClaude(model) && ui.effort.value) || 'medium', summary: 'auto' };
    }
    if (ui.tools.checked) {
      const f = EXAMPLE_TOOL.function;
      body.tools = [{ type: 'function', name: f.name, description: f.description, parameters: f.parameters }];
    }
    return body;
  }

  // The conversation a Responses turn was stored in: the one named, else the
  // one its id is made of ("resp_" + the conversation's 32 hex digits + the
  // position, docs/responses.md "Ids").
  function responseConversation(r) {
    if (r.conversation && typeof r.conversation.id === 'string') return r.conversation.id;
    const m = /^resp_([0-9a-f]{32})[0-9a-f]{8}$/.exec(r.id || '');
    return m ? 'conv-' + m[1] : null;
  }

  async function send(messages) {
    if (state.busy) return;
    if (!state.key) { showNotice(new ApiError({ message: 'Enter an API key first.' })); ui.key.focus(); return; }
    const model = ui.model.value;
    if (!model || ui.model.disabled) { showNotice(new ApiError({ message: 'No model to ask: load the model list first.' })); return; }
    clearNotice();

    const responses = ui.mode.value === 'responses';
    const body = responses ? responsesBody(model, messages) : chatBody(model, messages);

    for (const m of messages) {
      if (m.role === 'tool') toolMessage(m.tool_call_id, m.content);
      else plainMessage(m.role, contentText(m.content));
    }
    const view = assistantView();
    ui.log.append(view.art);
    scrollLog();

    const controller = new AbortController();
    state.controller = controller;
    setBusy(true);
    let sawDone = false;
    const ctx = { final: null };
    try {
      const res = await api(responses ? 'v1/responses' : 'v1/chat/completions', {
        method: 'POST', body, signal: controller.signal, accept: 'text/event-stream',
      });
      const type = res.headers.get('content-type') || '';
      if (!type.includes('text/event-stream')) {
        // Not a stream (should not happen with stream: true): show it whole.
        const j = await res.json();
        if (responses) {
          for (const it of Array.isArray(j.output) ? j.output : []) {
            if (!it) continue;
            if (it.type === 'message') view.addContent(contentText((it.content || []).map(partAsChat)));
            if (it.type === 'function_call') view.toolDelta({ id: it.call_id, function: { name: it.name, arguments: it.arguments } });
          }
          ctx.final = j;
        } else {
          handleChunk(view, { ...j, choices: (j.choices || []).map((c) => ({ ...c, delta: c.message })) });
        }
        sawDone = true;
      } else {
        for await (const data of sseData(res.body)) {
          if (!responses && data === '[DONE]') { sawDone = true; break; }
          let chunk;
          try { chunk = JSON.parse(data); } catch {
            view.setError(new ApiError({ message: 'The stream sent an event that is not JSON: ' + data.slice(0, 200) }));
            break;
          }
          if (!responses) { handleChunk(view, chunk); continue; }
          handleResponseEvent(view, chunk, ctx);
          if (ctx.final) { sawDone = true; break; }     // the closing event: nothing follows it
        }
      }
      if (responses && ctx.final) {
        view.setResponse(ctx.final);
        if (ctx.final.usage) view.setUsage(ctx.final.usage);
        if (res.headers.get('x-axon-conversation-stored') === 'false') {
          // Answered, not stored (Valkey down, a cap): its id is a random one
          // that nothing can continue, so the next turn continues from where
          // this one started (and the page says so).
          view.art.append(el('div', 'finish', 'Not stored (X-Axon-Conversation-Stored: false): the next message continues from before this answer.'));
        } else if (ctx.final.status !== 'failed') {
          setConversation(responseConversation(ctx.final));
          state.prevResponseId = ctx.final.id;
          state.lastResponseId = ctx.final.id;
        }
        // A failed (or stopped) turn stores nothing (docs/conversations.md):
        // the next turn continues from where this one started.

      } else if (!responses) {
        // A chat turn moves the tip: a later Responses turn names the conversation.
        state.prevResponseId = null;
        state.lastResponseId = null;
      }
      if (!sawDone && !view.failed) {
        view.setError(new ApiError({ message: responses
          ? 'The stream ended before its closing event (response.completed).'
          : 'The stream ended before data: [DONE].' }));
      }
    } catch (err) {
      if (err && err.name === 'AbortError') {
        view.end('stopped');
        view.art.append(el('div', 'finish', 'Stopped.'));
      } else {
        view.setError(err);
      }
    } finally {
      view.end('done');
      state.controller = null;
      setBusy(false);
    }
    if (!view.failed && view.finishReason === 'tool_calls' && ui.tools.checked) offerToolRun(view);
    loadConversations();
    refreshStore();
  }

  // A Responses content part as the chat part contentText reads.
  function partAsChat(p) {
    if (!p || typeof p !== 'object') return p;
    if (p.type === 'input_text' || p.type === 'output_text') return { type: 'text', text: p.text };
    if (p.type === 'refusal') return { type: 'text', text: '[refusal] ' + (p.refusal || '') };
    if (p.type === 'input_image') return { type: 'image_url' };
    if (p.type === 'input_file') return { type: 'file', file: { filename: p.filename } };
    return p;
  }

  // ---- the stored items panel ------------------------------------------------------

  // One line for an item of the Responses shape (docs/responses.md, "Ids").
  function itemText(it) {
    switch (it.type) {
      case 'message': {
        const c = typeof it.content === 'string' ? it.content
          : contentText(Array.isArray(it.content) ? it.content.map(partAsChat) : []);
        return `${it.role || '?'}: ${c}`;
      }
      case 'function_call':
        return `${it.name || '?'}(${it.arguments || ''}) · ${it.call_id || ''}`;
      case 'function_call_output': {
        const o = typeof it.output === 'string' ? it.output
          : contentText(Array.isArray(it.output) ? it.output.map(partAsChat) : []);
        return `${it.call_id || '?'} → ${o}`;
      }
      case 'reasoning': {
        const sum = Array.isArray(it.summary) ? it.summary.map((x) => (x && x.text) || '').join('\n') : '';
        return sum ? 'reasoning: ' + sum : 'reasoning';
      }
      default:
        return '';
    }
  }

  function itemRow(it) {
    const li = el('li', 'item');
    li.dataset.id = String(it.id || '');
    li.dataset.type = String(it.type || '');
    li.append(el('span', 'item-type', it.type), ' ', el('span', 'item-text', itemText(it)), ' ',
      el('code', 'item-id', it.id));
    return li;
  }

  function clearStore() {
    state.storeSeq++;
    ui.items.replaceChildren();
    ui.items.dataset.conversation = '';
    ui.itemsStatus.textContent = 'A new conversation has no items yet.';
    showStoredResponse(null);
  }

  function showStoredResponse(r, inputItems, note) {
    ui.respStored.dataset.id = r ? r.id : '';
    ui.respInput.replaceChildren(...(inputItems || []).map(itemRow));
    if (!r) {
      ui.respSummary.replaceChildren(note || 'A Responses turn shows its stored response here (GET v1/responses/{id}).');
      return;
    }
    const u = r.usage || {};
    ui.respSummary.replaceChildren(
      el('code', 'resp-id', r.id), ' · ', el('span', 'resp-status', r.status), ' · ',
      el('span', 'resp-model', r.model), ' · ',
      `tokens in ${fmtNum(u.input_tokens)} / out ${fmtNum(u.output_tokens)}`,
      r.previous_response_id ? ` · after ${r.previous_response_id}` : '',
    );
  }

  // Reads the current conversation's items and the last Responses turn's
  // stored response with its input items. Failures are shown in the panel.
  async function refreshStore() {
    const seq = ++state.storeSeq;
    const conv = state.convId;
    const respId = state.lastResponseId;
    if (!state.key || !conv) { clearStore(); return; }
    try {
      const j = await (await api(`v1/conversations/${encodeURIComponent(conv)}/items?order=desc&limit=${ITEMS_SHOWN}`)).json();
      if (seq !== state.storeSeq) return;
      const data = Array.isArray(j && j.data) ? j.data.filter((it) => it && typeof it === 'object') : [];
      ui.items.replaceChildren(...data.reverse().map(itemRow));
      ui.items.dataset.conversation = conv;
      ui.itemsStatus.textContent = j.has_more ? `The latest ${ITEMS_SHOWN} items of ${conv}.`
        : `${data.length} items of ${conv}.`;
    } catch (err) {
      if (seq !== state.storeSeq) return;
      ui.items.replaceChildren();
      ui.items.dataset.conversation = '';
      ui.itemsStatus.replaceChildren(errorBox(err, `GET v1/conversations/${conv}/items`));
    }
    if (!respId) {
      showStoredResponse(null, null, 'The last turn was a chat completions one: it has no stored response.');
      return;
    }
    try {
      const id = encodeURIComponent(respId);
      const [r, inp] = await Promise.all([
        api(`v1/responses/${id}`).then((x) => x.json()),
        api(`v1/responses/${id}/input_items?order=asc&limit=${ITEMS_SHOWN}`).then((x) => x.json()),
      ]);
      if (seq !== state.storeSeq) return;
      showStoredResponse(r, Array.isArray(inp && inp.data) ? inp.data.filter((it) => it && typeof it === 'object') : []);
    } catch (err) {
      if (seq !== state.storeSeq) return;
      showStoredResponse(null);
      ui.respSummary.replaceChildren(errorBox(err, `GET v1/responses/${respId}`));
    }
  }

  // ---- conversations -------------------------------------------------------------

  function convItem(c) {
    const li = el('li');
    li.dataset.id = c.id;
    if (c.id === state.convId) li.classList.add('current');
    const open = el('button', 'conv-open');
    open.type = 'button';
    open.title = 'Open ' + c.id;
    open.append(
      el('span', 'conv-model', c.model || '(no model)'),
      el('span', 'conv-meta', `${fmtNum(c.message_count)} messages · ${fmtTime(c.updated)}`),
      el('span', 'conv-idtext', c.id),
    );
    open.addEventListener('click', () => openConversation(c.id));
    const del = el('button', 'danger conv-delete', 'Delete');
    del.type = 'button';
    del.setAttribute('aria-label', 'Delete conversation ' + c.id);
    let timer = null;
    del.addEventListener('click', () => {
      if (!del.classList.contains('armed')) {     // first click arms, the second deletes
        del.classList.add('armed');
        del.textContent = 'Sure?';
        timer = setTimeout(() => { del.classList.remove('armed'); del.textContent = 'Delete'; }, 4000);
        return;
      }
      clearTimeout(timer);
      del.disabled = true;
      deleteConversation(c.id, li).finally(() => { del.disabled = false; });
    });
    li.append(open, del);
    return li;
  }

  async function loadConversations({ more = false } = {}) {
    const seq = ++state.convSeq;
    if (!state.key) {
      ui.convs.replaceChildren();
      ui.convsMore.hidden = true;
      ui.convsStatus.textContent = 'Enter a key to see its conversations.';
      return;
    }
    let path = 'v1/conversations?limit=20';
    if (more && state.convAfter) path += '&after=' + encodeURIComponent(state.convAfter);
    try {
      const j = await (await api(path)).json();
      if (seq !== state.convSeq) return;
      const data = Array.isArray(j && j.data) ? j.data.filter((c) => c && typeof c.id === 'string') : [];
      const items = data.map(convItem);
      if (more) ui.convs.append(...items); else ui.convs.replaceChildren(...items);
      state.convAfter = j.last_id || null;
      ui.convsMore.hidden = !j.has_more;
      ui.convsStatus.textContent = ui.convs.children.length ? '' : 'No conversations yet.';
      ui.convs.dataset.loaded = String(Date.now());
    } catch (err) {
      if (seq !== state.convSeq) return;
      ui.convsStatus.replaceChildren(errorBox(err, 'GET v1/conversations'));
    }
  }

  async function openConversation(id) {
    if (state.busy) { showNotice(new ApiError({ message: 'Wait for the answer to finish, or stop it, first.' })); return; }
    try {
      const j = await (await api('v1/conversations/' + encodeURIComponent(id))).json();
      clearNotice();
      ui.log.replaceChildren();
      setConversation(j.id);
      // Opened from the list: a Responses turn names the conversation (no response id is known).
      state.prevResponseId = null;
      state.lastResponseId = null;
      refreshStore();
      for (const m of Array.isArray(j.messages) ? j.messages : []) renderStored(m);
      if (j.model && modelInfo(j.model)) { ui.model.value = j.model; storeSet(MODEL_STORE, j.model); updateEffort(); }
      ui.log.dataset.conversation = j.id;
    } catch (err) {
      showNotice(err, 'GET v1/conversations/' + id);
      if (err.status === 404) loadConversations();
    }
  }

  async function deleteConversation(id, li) {
    try {
      await api('v1/conversations/' + encodeURIComponent(id), { method: 'DELETE' });
      li.remove();
      if (state.convId === id) newChat();
      clearNotice();
    } catch (err) {
      showNotice(err, 'DELETE v1/conversations/' + id);
    }
    await loadConversations();
  }

  // ---- live /stats ------------------------------------------------------------

  function statRows(s) {
    const rows = [];
    const add = (key, label, value) => rows.push([key, label, value]);
    const r = s.requests || {};
    // requests.* are the answering axon process's own counters (scope "process").
    add('requests.pid', 'axon process', r.pid);
    add('requests.total', 'requests', r.total);
    add('requests.in_flight', 'in flight', r.in_flight);
    add('requests.streams', 'streams', r.streams);
    add('requests.client_gone', 'clients gone', r.client_gone);
    add('requests.status', '2xx / 4xx / 5xx', `${fmtNum(r.status_2xx)} / ${fmtNum(r.status_4xx)} / ${fmtNum(r.status_5xx)}`);
    add('requests.tokens', 'tokens in / out', `${fmtNum(r.tokens_in)} / ${fmtNum(r.tokens_out)}`);
    const p = s.pool || {};
    add('pool.sessions', 'pool idle / busy / size', `${fmtNum(p.idle)} / ${fmtNum(p.busy)} / ${fmtNum(p.size)}`);
    add('pool.waiting', 'pool waiting', p.waiting);
    add('pool.acquires', 'acquires', p.acquires);
    if (p.acquire_wait_ms) add('pool.wait', 'acquire wait p50 / p99', `${fmtNum(p.acquire_wait_ms.p50)} / ${fmtNum(p.acquire_wait_ms.p99)} ms`);
    const c = s.conversations || {};
    add('conversations.active', 'conversations', c.active);
    add('conversations.stored_turns', 'stored turns', c.stored_turns);
    add('valkey', 'valkey', s.valkey);
    if (s.upstreams && typeof s.upstreams === 'object') {
      for (const [name, u] of Object.entries(s.upstreams)) {
        if (!u || typeof u !== 'object') continue;
        const sess = u.sessions ? ` · ${fmtNum(u.sessions.busy)}/${fmtNum(u.sessions.size)} busy` : '';
        add('upstream.' + name, name, `${u.state ?? '?'}${sess}`);
      }
    }
    return rows;
  }

  function renderStats(s) {
    const nodes = [];
    for (const [key, label, value] of statRows(s)) {
      const dt = el('dt', null, label);
      const dd = el('dd', null, typeof value === 'string' ? value
      : (key === 'requests.pid' ? String(value ?? '–') : fmtNum(value)));
      dd.dataset.stat = key;
      if (typeof value === 'number') dd.dataset.value = String(value);
      nodes.push(dt, dd);
    }
    ui.stats.replaceChildren(...nodes);
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function drawChart() {
    const now = Date.now();
    state.samples = state.samples.filter((p) => now - p.t <= CHART_WINDOW_MS);
    const pts = state.samples;
    const W = 300, TOP = 8, BOTTOM = 112;
    let max = 1;
    for (const p of pts) max = Math.max(max, p.size, p.idle, p.busy);
    const x = (t) => (W * (t - (now - CHART_WINDOW_MS)) / CHART_WINDOW_MS).toFixed(1);
    const y = (v) => (BOTTOM - (BOTTOM - TOP) * v / max).toFixed(1);
    ui.lineIdle.setAttribute('points', pts.map((p) => `${x(p.t)},${y(p.idle)}`).join(' '));
    ui.lineBusy.setAttribute('points', pts.map((p) => `${x(p.t)},${y(p.busy)}`).join(' '));
    const grid = ui.chart.querySelector('.grid');
    const g = [];
    for (const v of [0, Math.round(max / 2), max]) {
      const line = document.createElementNS(SVG_NS, 'line');
      line.setAttribute('x1', '0'); line.setAttribute('x2', String(W));
      line.setAttribute('y1', y(v)); line.setAttribute('y2', y(v));
      const label = document.createElementNS(SVG_NS, 'text');
      label.setAttribute('x', '2'); label.setAttribute('y', String(Number(y(v)) - 2));
      label.textContent = String(v);
      g.push(line, label);
    }
    grid.replaceChildren(...g);
    ui.chart.dataset.samples = String(pts.length);
    const last = pts[pts.length - 1];
    ui.chart.dataset.idle = last ? String(last.idle) : '';
    ui.chart.dataset.busy = last ? String(last.busy) : '';
    ui.chartRange.textContent = ` · last ${Math.round(CHART_WINDOW_MS / 60000)} min`;
  }

  async function pollStats() {
    try {
      const res = await fetch(apiUrl('stats'), {
        cache: 'no-store', headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(5000),
      });
      if (!res.ok) throw await errorFromResponse(res);
      const s = await res.json();
      renderStats(s);
      const p = s.pool || {};
      const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
      state.samples.push({ t: Date.now(), idle: num(p.idle), busy: num(p.busy), size: num(p.size) });
      drawChart();
      ui.statsStatus.textContent = 'updated ' + new Date().toLocaleTimeString();
      setHealth(true, s.valkey === 'ok' ? 'axon ok' : `axon ok · valkey ${s.valkey}`);
    } catch (err) {
      ui.statsStatus.textContent = 'stats unavailable: ' + (err && err.message ? err.message : err);
      setHealth(false, 'stats unavailable');
    } finally {
      setTimeout(pollStats, STATS_EVERY_MS);
    }
  }

  function setHealth(ok, text) {
    ui.health.textContent = text;
    ui.health.className = 'pill ' + (ok ? 'ok' : 'bad');
  }

  async function checkHealth() {
    try {
      const res = await fetch(apiUrl('health'), { cache: 'no-store', signal: AbortSignal.timeout(5000) });
      setHealth(res.ok, res.ok ? 'axon ok' : `health: HTTP ${res.status}`);
    } catch {
      setHealth(false, 'axon unreachable');
    }
  }

  // ---- wiring ------------------------------------------------------------------

  function useKey(key) {
    state.key = key;
    storeSet(KEY_STORE, key);
    state.convAfter = null;
    if (!key) {
      state.models = [];
      ui.model.replaceChildren(el('option', null, 'enter a key first'));
      ui.model.disabled = true;
      loadConversations();
      return;
    }
    loadModels();
    loadConversations();
  }

  ui.keyForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = ui.key.value.trim();
    if (!key) { showNotice(new ApiError({ message: 'Enter an API key.' })); return; }
    // A header value must be visible ASCII; fetch would throw a TypeError otherwise.
    if (!/^[\x21-\x7e]+$/.test(key)) {
      showNotice(new ApiError({ message: 'An API key may contain only visible ASCII characters.' }));
      return;
    }
    clearNotice();
    if (key !== state.key) newChat();
    useKey(key);
  });
  ui.keyForget.addEventListener('click', () => {
    ui.key.value = '';
    newChat();
    useKey('');
  });
  ui.model.addEventListener('change', () => { storeSet(MODEL_STORE, ui.model.value); updateEffort(); });
  ui.thinking.addEventListener('change', updateEffort);
  // The API switch changes how the next turn is sent, not the conversation:
  // both APIs continue the same stored history.
  ui.mode.addEventListener('change', () => storeSet(MODE_STORE, ui.mode.value));
  if (storeGet(MODE_STORE) === 'responses') ui.mode.value = 'responses';
  ui.composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = ui.prompt.value;
    if (!text.trim() || state.busy) return;
    ui.prompt.value = '';
    send([{ role: 'user', content: text }]);
  });
  ui.prompt.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      ui.composer.requestSubmit();
    }
  });
  ui.stop.addEventListener('click', () => { if (state.controller) state.controller.abort(); });
  ui.newChat.addEventListener('click', newChat);
  ui.convsRefresh.addEventListener('click', () => loadConversations());
  ui.convsMore.addEventListener('click', () => loadConversations({ more: true }));

  // Start. On a phone the chat comes first and the side panels start folded.
  if (window.matchMedia && window.matchMedia('(max-width: 760px)').matches) {
    $('convs-details').open = false;
    $('stats-details').open = false;
  }
  clearStore();
  checkHealth();
  pollStats();
  const saved = storeGet(KEY_STORE);
  if (saved) { ui.key.value = saved; useKey(saved); } else loadConversations();
})();
