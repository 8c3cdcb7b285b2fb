// The dashboard page: renders the snapshots the dashboard server streams over SSE
// (/dashboard/events) and sends the operator's actions to /dashboard/api/*.

const $ = (selector) => document.querySelector(selector);
const STATE_RANK = { open: 3, half_open: 2, 'half-open': 2, closed: 1 };
let snapshot;
let openTrace;
const chart = [];

/** Creates an element with attributes and children (strings become text, never HTML). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Number.POSITIVE_INFINITY)) {
    if (child === undefined || child === null) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const ms = (value) => {
  if (value === undefined || value === null) return '—';
  // a failed instance's estimate carries the balancer's failure penalty: seconds, or beyond
  if (value >= 3_600_000) return '> 1 h';
  if (value >= 10_000) return `${Math.round(value / 1000)} s`;
  return `${Math.round(value * 10) / 10} ms`;
};
// histories go back to the stack's start: the clock time, and how long ago
const ago = (at) =>
  `${new Date(at).toLocaleTimeString()}, ${Math.max(0, Math.round((Date.now() - at) / 1000))} s ago`;
const stateClass = (state) => `state-${String(state).replace('-', '_')}`;

async function call(method, path, body) {
  const result = $('#action-result');
  result.textContent = `${method} ${path}…`;
  try {
    const res = await fetch(`/dashboard/api/${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    result.textContent = `${method} ${path}: ${res.status} ${text.slice(0, 200)}`;
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  } catch (error) {
    result.textContent = `${method} ${path} failed: ${error.message}`;
    return { status: 0 };
  }
}
const pushConfig = (patch) => call('PUT', 'config', patch);

// ---- fault switches --------------------------------------------------------------------------

function faultSwitches(s) {
  const faults = s.config.document.faults ?? {};
  const inventory = s.instances.filter((i) => i.service === 'inventory').map((i) => i.id);
  const slowId = inventory[0] ?? 'inventory-1';
  return [
    {
      id: 'fault-payments-outage',
      label: 'Payments outage',
      absorbs:
        "orders' payments breaker opens: checkouts fail fast (503 + Retry-After), the saga releases reserved stock",
      on: faults.paymentsOutage === true,
      set: (on) => pushConfig({ faults: { paymentsOutage: on } }),
    },
    {
      id: 'fault-slow-inventory',
      label: `Slow instance: ${slowId} ×10`,
      absorbs: 'p2cPeakEwma balancing stops picking the slow instance',
      on: faults.slow?.[slowId] > 1,
      set: (on) => pushConfig({ faults: { slow: { [slowId]: on ? 10 : null } } }),
    },
    {
      id: 'fault-inventory-errors',
      label: 'Inventory error rate 30 %',
      absorbs: 'retry of replayable requests (idempotent reservations) and outlier ejection',
      on: faults.errorRate?.inventory > 0,
      set: (on) => pushConfig({ faults: { errorRate: { inventory: on ? 0.3 : null } } }),
    },
    {
      id: 'fault-invalid-config',
      label: 'Invalid config push (faults.paymentsOutage = "yes")',
      absorbs: 'config validation: every instance refuses it and keeps its last good configuration',
      on: faults.paymentsOutage !== undefined && typeof faults.paymentsOutage !== 'boolean',
      set: (on) => pushConfig({ faults: { paymentsOutage: on ? 'yes' : false } }),
    },
  ];
}

function renderFaults(s) {
  const list = $('#faults');
  list.replaceChildren(
    ...faultSwitches(s).map((f) => {
      const input = h('input', {
        type: 'checkbox',
        role: 'switch',
        id: f.id,
        checked: f.on,
        'aria-describedby': `${f.id}-absorbs`,
        onchange: (event) => f.set(event.target.checked),
      });
      input.checked = f.on;
      return h(
        'li',
        { class: f.on ? 'fault on' : 'fault' },
        input,
        h('label', { for: f.id }, f.label, h('span', { class: 'badge' }, f.on ? 'ON' : 'off')),
        h('p', { id: `${f.id}-absorbs`, class: 'absorbs' }, `absorbed by: ${f.absorbs}`),
      );
    }),
  );
}

function renderActions() {
  const actions = [
    {
      label: 'Kill the orders leader',
      absorbs:
        'lease + campaign: the other instance takes over within the TTL, fencing token increases',
      run: () => call('POST', 'orders/leader/kill'),
    },
    {
      label: 'Pause Redis 2 s',
      absorbs: 'idempotency store fails closed (503 + Retry-After), nothing charged twice',
      run: () => call('POST', 'redis/pause', { ms: 2000 }),
    },
    {
      label: 'Rolling restart of inventory',
      absorbs: 'graceful shutdown: readiness off, deregister, drain; 0 failed requests',
      run: () => call('POST', 'rolling-restart?service=inventory'),
    },
  ];
  $('#actions').replaceChildren(
    ...actions.map((a) =>
      h(
        'div',
        { class: 'action' },
        h('button', { type: 'button', onclick: a.run }, a.label),
        h('span', { class: 'absorbs' }, `absorbed by: ${a.absorbs}`),
      ),
    ),
  );
}

// ---- topology --------------------------------------------------------------------------------

function renderTopology(s) {
  const services = new Map();
  for (const service of s.services) services.set(service.name, []);
  for (const instance of s.instances) {
    if (!services.has(instance.service)) services.set(instance.service, []);
    services.get(instance.service).push(instance);
  }
  $('#topology').replaceChildren(
    ...[...services].map(([name, instances]) =>
      h(
        'article',
        { class: 'service', 'data-service': name, 'aria-label': `service ${name}` },
        h('h3', {}, name, h('span', { class: 'count' }, ` ${instances.length} instance(s)`)),
        h(
          'ul',
          {},
          instances.map((i) =>
            h(
              'li',
              {
                class: `instance ${i.status === 'ready' ? 'ok' : 'bad'}`,
                'data-instance': i.id,
                tabindex: 0,
              },
              h('strong', {}, i.id),
              h('span', { class: 'pill' }, i.status),
              h('span', { class: 'pill' }, i.registered),
              h(
                'span',
                { class: 'detail' },
                `process ${i.process} · :${i.port} · ${i.rssMb} MB · config ${i.config?.version === undefined ? 'from files' : `v${i.config.version}`}${i.leader ? ' · leader' : ''}`,
              ),
              balancerLine(i),
              h(
                'span',
                { class: 'buttons' },
                h(
                  'button',
                  {
                    type: 'button',
                    id: `kill-${i.id}`,
                    onclick: () => call('POST', `processes/${i.id}/kill`),
                    'aria-label': `kill ${i.id}`,
                  },
                  'kill',
                ),
                h(
                  'button',
                  {
                    type: 'button',
                    id: `restart-${i.id}`,
                    onclick: () =>
                      call(
                        'POST',
                        `processes/${i.id}/${i.process === 'exited' || i.process === 'killed' ? 'start' : 'restart'}`,
                      ),
                    'aria-label': `restart ${i.id}`,
                  },
                  i.process === 'exited' || i.process === 'killed' ? 'start' : 'restart',
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
  renderEdges(s);
}

/** Zone, requests in flight, peak-EWMA estimate and ejection, as the instance's callers see it. */
function balancerLine(i) {
  const b = i.balancer;
  const ejected = b?.ejectedBy?.length
    ? `ejected by ${b.ejectedBy.map((e) => `${e.caller} (${Math.ceil(e.forMs / 1000)} s left)`).join(', ')}`
    : 'not ejected';
  const perCaller = (b?.callers ?? [])
    .filter((c) => c.latencyMs !== undefined)
    .map((c) => `${c.caller} ${ms(c.latencyMs)}`)
    .join(', ');
  return h(
    'span',
    { class: `balancer${b?.ejectedBy?.length ? ' ejected' : ''}`, 'data-balancer': i.id },
    h('span', { class: 'kv', 'data-field': 'zone' }, `zone ${i.zone ?? '—'}`),
    h('span', { class: 'kv', 'data-field': 'in-flight' }, `in flight ${b ? b.inFlight : '—'}`),
    h(
      'span',
      {
        class: 'kv',
        'data-field': 'ewma',
        title: perCaller ? `per caller: ${perCaller}` : undefined,
      },
      `peak-EWMA ${b ? ms(b.ewmaMs) : '—'}`,
    ),
    h('span', { class: 'kv', 'data-field': 'ejection' }, b ? ejected : 'no balancer calls it'),
  );
}

// Where each service sits in the drawing (columns left to right follow the calls).
const LAYOUT = {
  gateway: [70, 95],
  catalog: [250, 30],
  orders: [250, 140],
  auth: [70, 230],
  inventory: [440, 60],
  payments: [440, 140],
  shipping: [440, 230],
  notifications: [620, 230],
};
const DECLARED = [
  ['gateway', 'catalog'],
  ['gateway', 'orders'],
  ['orders', 'catalog'],
  ['orders', 'inventory'],
  ['orders', 'payments'],
];
const STREAMS = [
  { from: 'orders', to: 'shipping', label: 'stream' },
  { from: 'shipping', to: 'notifications', label: 'stream' },
];

/** Calls between services: rate and error rate (from the balancer counters) and breaker state. */
function renderEdges(s) {
  const breakerOf = new Map();
  for (const instance of s.instances)
    for (const [dependency, state] of Object.entries(instance.breakers ?? {})) {
      const key = `${instance.service}→${dependency}`;
      const before = breakerOf.get(key);
      if (!before || STATE_RANK[state] > STATE_RANK[before]) breakerOf.set(key, state);
    }
  const measured = new Map((s.edges ?? []).map((e) => [`${e.from}→${e.to}`, e]));
  // The calls the shop makes (drawn before any traffic), then any other the balancers counted.
  const edges = DECLARED.map(
    ([from, to]) =>
      measured.get(`${from}→${to}`) ?? { from, to, rate: 0, errorRate: 0, requests: 0 },
  );
  for (const e of measured.values())
    if (LAYOUT[e.from] && LAYOUT[e.to] && !DECLARED.some(([f, t]) => f === e.from && t === e.to))
      edges.push(e);
  const pct = (x) => `${Math.round(x * 1000) / 10} %`;
  const label = (e) => `${e.rate}/s · ${pct(e.errorRate)} errors`;
  const svgNs = 'http://www.w3.org/2000/svg';
  const el = (tag, attributes, text) => {
    const node = document.createElementNS(svgNs, tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const svg = el('svg', {
    viewBox: '0 0 700 270',
    class: 'graph',
    role: 'img',
    'aria-labelledby': 'graph-title',
  });
  svg.append(
    el(
      'title',
      { id: 'graph-title' },
      'Calls between services; the list below says the same in text',
    ),
  );
  const defs = el('defs', {});
  const marker = el('marker', {
    id: 'arrow',
    viewBox: '0 0 10 10',
    refX: 10,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse',
  });
  marker.append(el('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }));
  defs.append(marker);
  svg.append(defs);
  const line = (from, to, cls, text, key) => {
    const [x1, y1] = LAYOUT[from];
    const [x2, y2] = LAYOUT[to];
    const dx = x2 - x1;
    const dy = y2 - y1;
    const len = Math.hypot(dx, dy) || 1;
    const pad = 38;
    const g = el('g', { class: `edge ${cls}`, 'data-edge': key });
    g.append(
      el('line', {
        x1: x1 + (dx / len) * pad,
        y1: y1 + (dy / len) * 16,
        x2: x2 - (dx / len) * pad,
        y2: y2 - (dy / len) * 16,
        'marker-end': 'url(#arrow)',
      }),
    );
    // the label beside the line's middle, on its upper side
    const nx = dy / len;
    const ny = -dx / len;
    const side = ny > 0 ? -1 : 1;
    g.append(
      el(
        'text',
        {
          x: (x1 + x2) / 2 + nx * 9 * side,
          y: (y1 + y2) / 2 + ny * 9 * side,
          'text-anchor': 'middle',
        },
        text,
      ),
    );
    svg.append(g);
  };
  for (const e of edges) {
    const breaker = breakerOf.get(`${e.from}→${e.to}`) ?? 'closed';
    const cls = `${stateClass(breaker)}${e.errorRate >= 0.05 ? ' erroring' : ''}${e.rate > 0 ? ' busy' : ''}`;
    line(e.from, e.to, cls, label(e), `${e.from}-${e.to}`);
  }
  for (const e of STREAMS) line(e.from, e.to, 'stream', 'Redis stream', `${e.from}-${e.to}`);
  for (const [name, [x, y]] of Object.entries(LAYOUT)) {
    const instances = s.instances.filter((i) => i.service === name);
    const ready = instances.filter((i) => i.status === 'ready').length;
    const g = el('g', { class: `node ${ready === instances.length && ready > 0 ? 'ok' : 'bad'}` });
    g.append(el('rect', { x: x - 40, y: y - 16, width: 80, height: 32, rx: 6 }));
    g.append(el('text', { x, y: y - 1, 'text-anchor': 'middle' }, name));
    g.append(
      el(
        'text',
        { x, y: y + 11, 'text-anchor': 'middle', class: 'small' },
        `${ready}/${instances.length} ready`,
      ),
    );
    svg.append(g);
  }
  $('#edges').replaceChildren(
    h('h3', {}, 'Calls'),
    svg,
    h(
      'ul',
      { class: 'edge-list', 'aria-label': 'calls between services' },
      edges.map((e) => {
        const breaker = breakerOf.get(`${e.from}→${e.to}`) ?? 'closed';
        return h(
          'li',
          { class: stateClass(breaker), 'data-edge': `${e.from}-${e.to}` },
          `${e.from} → ${e.to}: ${label(e)} (breaker ${breaker.replace('_', '-')})`,
        );
      }),
      STREAMS.map((e) => h('li', { class: 'stream' }, `${e.from} ⇢ ${e.to} (Redis stream)`)),
    ),
  );
}

// ---- scenarios -------------------------------------------------------------------------------

function renderScenarios(s) {
  const sc = s.scenarios;
  const body = $('#scenarios tbody');
  if (!sc?.available) {
    $('#scenario-status').textContent = 'The scenario runner is not available in this checkout.';
    body.replaceChildren();
    $('#scenarios').hidden = true;
    return;
  }
  $('#scenario-status').textContent = sc.running
    ? `Running scenario ${sc.running.id} (${sc.running.seconds} s): ${sc.running.log.at(-1) ?? 'starting…'}`
    : 'Idle: one scenario runs at a time, against this stack, with a small paced load.';
  body.replaceChildren(
    ...sc.list.map((row) => {
      const result = sc.results[row.id];
      const isRunning = sc.running?.id === row.id;
      return h(
        'tr',
        {
          'data-scenario': row.id,
          'data-result': isRunning ? 'running' : result ? (result.ok ? 'ok' : 'failed') : 'none',
        },
        h('th', { scope: 'row' }, `${row.id}. ${row.scenario}`),
        h('td', {}, row.fault),
        h('td', {}, row.feature),
        h('td', {}, row.expected),
        h(
          'td',
          { class: result && !isRunning ? (result.ok ? 'ok' : 'rejected') : '' },
          isRunning
            ? `running… ${sc.running.seconds} s`
            : result
              ? `${result.ok ? '✓ ok' : '✗ failed'}: ${result.measured ?? ''}${result.durationMs ? ` (${Math.round(result.durationMs / 1000)} s)` : ''}`
              : '—',
        ),
        h(
          'td',
          {},
          h(
            'button',
            {
              type: 'button',
              id: `run-scenario-${row.id}`,
              disabled: sc.running !== undefined,
              'aria-label': `run scenario ${row.id}: ${row.scenario}`,
              onclick: () => void call('POST', `scenarios/${row.id}/run`),
            },
            'run',
          ),
        ),
      );
    }),
  );
  $('#scenarios').hidden = false;
  $('#scenario-stop').disabled = !sc.running;
}

// ---- breakers --------------------------------------------------------------------------------

/** Failure and slow-call rates against the threshold, and the time until half-open (when /health has them). */
function metricsText(m) {
  if (!m) return '';
  const pct = (x) => `${Math.round(x * 100)} %`;
  const parts = [
    `failures ${pct(m.failureRate)}${m.failureRateThreshold === undefined ? '' : ` of ${pct(m.failureRateThreshold)} allowed`}`,
    `slow ${pct(m.slowCallRate)}`,
    `${m.calls} calls`,
  ];
  if (m.openForMs > 0) parts.push(`half-open in ${Math.ceil(m.openForMs / 1000)} s`);
  return ` (${parts.join(', ')})`;
}

function renderBreakers(s) {
  const byDependency = new Map();
  for (const instance of s.instances)
    for (const [dependency, state] of Object.entries(instance.breakers ?? {})) {
      if (!byDependency.has(dependency)) byDependency.set(dependency, []);
      byDependency.get(dependency).push({
        caller: instance.id,
        state,
        metrics: instance.breakerMetrics?.[dependency],
      });
    }
  const rows = [...byDependency].sort(([a], [b]) => a.localeCompare(b));
  $('#breakers tbody').replaceChildren(
    ...rows.map(([dependency, callers]) => {
      const worst = callers.reduce(
        (w, c) => (STATE_RANK[c.state] > STATE_RANK[w] ? c.state : w),
        'closed',
      );
      return h(
        'tr',
        { 'data-dependency': dependency, 'data-state': worst },
        h('th', { scope: 'row' }, dependency),
        h('td', {}, h('span', { class: `breaker ${stateClass(worst)}` }, worst.replace('_', '-'))),
        h(
          'td',
          {},
          h(
            'ul',
            { class: 'callers' },
            callers.map((c) => h('li', {}, `${c.caller}: ${c.state}${metricsText(c.metrics)}`)),
          ),
        ),
      );
    }),
  );
  $('#breaker-log').replaceChildren(
    ...(s.breakerLog.length ? s.breakerLog : [{ at: s.at, text: 'no transitions yet' }]).map((t) =>
      h('li', {}, `${ago(t.at)} — ${t.text}`),
    ),
  );
}

// ---- leadership and config -------------------------------------------------------------------

function renderLeadership(s) {
  $('#leader').textContent = s.leader
    ? `Leader: ${s.leader.id}, fencing token ${s.leader.fencingToken ?? '?'}`
    : 'No orders instance reports leadership.';
  $('#leader-log').replaceChildren(
    ...s.leaderLog.map((t) => h('li', {}, `${ago(t.at)} — ${t.text}`)),
  );
}

function renderConfig(s) {
  $('#config-instances tbody').replaceChildren(
    ...s.instances.map((i) =>
      h(
        'tr',
        { 'data-instance': i.id },
        h('th', { scope: 'row' }, i.id),
        h('td', {}, i.config?.version === undefined ? 'files only' : `v${i.config.version}`),
        h(
          'td',
          { class: i.config?.rejected ? 'rejected' : '' },
          i.config?.rejected
            ? `v${i.config.rejected.version} refused: ${i.config.rejected.error}`
            : '—',
        ),
      ),
    ),
  );
  $('#config-history').replaceChildren(
    ...s.config.history.map((v, index) =>
      h(
        'li',
        { 'data-version': v.version },
        `v${v.version} (${ago(v.at)}): ${v.changed.join(', ') || 'no change'} `,
        index === 0
          ? undefined
          : h(
              'button',
              {
                type: 'button',
                id: `rollback-${v.version}`,
                'aria-label': `roll back to the document of version ${v.version}`,
                onclick: () => {
                  const { version: _version, ...document } = v.document;
                  void call('PUT', 'config?replace=1', document);
                },
              },
              'roll back to this',
            ),
      ),
    ),
  );
}

// ---- load ------------------------------------------------------------------------------------

function renderLoad(s) {
  const load = s.load;
  const errors =
    Object.entries(load.errors)
      .map(([code, n]) => `${code}: ${n}`)
      .join(', ') || 'none';
  $('#load-stats').textContent =
    `${load.running ? `running at ${load.running.rps}/s, ${load.running.secondsLeft} s left` : 'stopped'} · last 10 s: ` +
    `${load.throughput} ok/s, p99 ${ms(load.p99)}, ${load.requests} requests, errors ${errors}`;
  chart.push({ throughput: load.throughput, p99: load.p99 ?? 0 });
  if (chart.length > 120) chart.shift();
  const max = Math.max(1, ...chart.map((c) => c.p99));
  const maxT = Math.max(1, ...chart.map((c) => c.throughput));
  const line = (value, top) =>
    chart.map((c, i) => `${(i / 119) * 480},${80 - (value(c) / top) * 76}`).join(' ');
  const svg = $('#load-chart');
  svg.innerHTML = '';
  for (const [points, cls] of [
    [line((c) => c.p99, max), 'p99'],
    [line((c) => c.throughput, maxT), 'throughput'],
  ]) {
    const polyline = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    polyline.setAttribute('points', points);
    polyline.setAttribute('class', cls);
    svg.append(polyline);
  }
}

// ---- traces ----------------------------------------------------------------------------------

function renderTraces(s) {
  const all = $('#traces-all').checked;
  const shown = s.traces
    .filter((t) => all || t.services.length > 1 || t.spanCount > 2)
    .slice(0, 25);
  $('#traces tbody').replaceChildren(
    ...shown.map((t) =>
      h(
        'tr',
        { 'data-trace': t.traceId, class: t.traceId === openTrace ? 'selected' : '' },
        h(
          'td',
          {},
          h(
            'button',
            {
              type: 'button',
              id: `trace-${t.traceId}`,
              class: 'link',
              onclick: () => showTrace(t.traceId),
              'aria-label': `open trace ${t.rootName} ${t.traceId}`,
            },
            `${t.rootService}: ${t.rootName}`,
          ),
        ),
        h('td', {}, t.services.join(', ')),
        h('td', {}, t.spanCount),
        h('td', {}, ms(t.durationMs)),
        h('td', { class: t.error ? 'rejected' : '' }, t.error ? 'error' : 'ok'),
      ),
    ),
  );
}

async function showTrace(traceId) {
  openTrace = traceId;
  const box = $('#waterfall');
  box.textContent = 'loading…';
  const res = await fetch(`/dashboard/api/traces/${traceId}`);
  if (!res.ok) {
    box.textContent = `trace ${traceId} not found (yet): its spans arrive within a second`;
    return;
  }
  const { spans } = await res.json();
  const t0 = Math.min(...spans.map((span) => span.startTimeMs));
  const t1 = Math.max(...spans.map((span) => span.startTimeMs + span.durationMs));
  const total = Math.max(t1 - t0, 0.001);
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const depth = (span) => {
    let d = 0;
    for (let p = byId.get(span.parentSpanId); p && d < 50; p = byId.get(p.parentSpanId)) d++;
    return d;
  };
  box.replaceChildren(
    h(
      'h3',
      { id: 'waterfall-title', tabindex: -1 },
      `Trace ${traceId} — ${spans.length} spans, ${ms(total)}`,
    ),
    h(
      'ol',
      { class: 'waterfall', 'aria-labelledby': 'waterfall-title' },
      spans.map((span) => {
        const left = ((span.startTimeMs - t0) / total) * 100;
        const width = Math.max((span.durationMs / total) * 100, 0.3);
        const attributes = Object.entries(span.attributes).sort(([a], [b]) =>
          a.startsWith('ballast.') === b.startsWith('ballast.')
            ? a.localeCompare(b)
            : a.startsWith('ballast.')
              ? -1
              : 1,
        );
        return h(
          'li',
          {
            class: `span ${span.status.code === 'error' ? 'error' : ''}`,
            'data-service': span.service,
          },
          h(
            'details',
            {},
            h(
              'summary',
              {},
              h(
                'span',
                { class: 'span-label', style: `padding-left:${depth(span) * 0.8}em` },
                h('span', { class: `svc svc-${span.service}` }, span.service),
                ` ${span.name} · ${span.kind} · ${ms(span.durationMs)}${span.status.code === 'error' ? ' · ERROR' : ''}`,
              ),
              h(
                'span',
                { class: 'track', 'aria-hidden': 'true' },
                h('span', {
                  class: `bar svc-${span.service}`,
                  style: `left:${left}%;width:${width}%`,
                }),
              ),
            ),
            h(
              'dl',
              {},
              h('dt', {}, 'instance'),
              h('dd', {}, span.instance ?? '—'),
              h('dt', {}, 'status'),
              h(
                'dd',
                {},
                `${span.status.code}${span.status.message ? `: ${span.status.message}` : ''}`,
              ),
              attributes.map(([k, v]) => [
                h('dt', { class: k.startsWith('ballast.') ? 'ballast' : '' }, k),
                h('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v)),
              ]),
              span.events.map((e) => [
                h('dt', {}, `event ${e.name}`),
                h('dd', {}, JSON.stringify(e.attributes)),
              ]),
            ),
          ),
        );
      }),
    ),
  );
  $('#waterfall-title').focus();
  if (snapshot) renderTraces(snapshot);
}

// ---- wiring ----------------------------------------------------------------------------------

function render(s) {
  snapshot = s;
  // re-rendering replaces the controls: keep the keyboard focus where it was
  const focused = document.activeElement?.id;
  $('#connection').textContent =
    `live · ${s.instances.length} instances · updated ${new Date(s.at).toLocaleTimeString()}`;
  document.body.dataset.updated = String(s.at);
  renderFaults(s);
  renderScenarios(s);
  renderTopology(s);
  renderBreakers(s);
  renderLeadership(s);
  renderConfig(s);
  renderLoad(s);
  renderTraces(s);
  if (focused && document.activeElement?.id !== focused) document.getElementById(focused)?.focus();
}

renderActions();
$('#config-form').addEventListener('submit', (event) => {
  event.preventDefault();
  try {
    void pushConfig(JSON.parse($('#config-push').value));
  } catch (error) {
    $('#action-result').textContent = `not JSON: ${error.message}`;
  }
});
$('#load-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void call('POST', 'load', {
    rps: Number($('#load-rps').value),
    seconds: Number($('#load-seconds').value),
  });
});
$('#scenario-stop').addEventListener('click', () => void call('POST', 'scenarios/stop'));
$('#traces-all').addEventListener('change', () => snapshot && renderTraces(snapshot));
$('#load-stop').addEventListener('click', () => void call('POST', 'load', { rps: 0 }));
$('#checkout-one').addEventListener('click', async () => {
  const { body } = await call('POST', 'checkout');
  if (body?.traceId) setTimeout(() => void showTrace(body.traceId), 1500);
});

const events = new EventSource('/dashboard/events');
events.addEventListener('snapshot', (event) => render(JSON.parse(event.data)));
events.addEventListener('error', () => {
  $('#connection').textContent = 'disconnected — reconnecting…';
});
