// Artillery processor of qrbench (`qrbench export artillery`, `qrbench load --engine artillery`).
//
// It picks each virtual user's next request from the payload file (the CSV of qrbench's request pool,
// loaded whole as `qrbenchPool`, one object per row) in pool order per kind, sends it (with a new query when
// the plan says new_queries), and writes one raw line per request
// to QRBENCH_RAW_DIR/raw-<pid>-<thread>.jsonl: the kind, endpoint, method, candidates, bytes sent, the
// intended/start/end wall-clock times (ms since the Unix epoch, sub-millisecond), the HTTP status and the
// response body, or the error code when no answer came. qrbench turns these lines into its own records
// (qrbench.load.artillery.records_from_raw), so the status/body classification is the one every engine uses.
//
// Closed model (the plan's `model` is "closed"): each virtual user is one qrbench user. Users get indexes in
// order of arrival and keep sending (request, think, request, ...) while the users schedule is above their
// index, so the last to come are the first to leave when the schedule falls, as in qrbench's driver.
// Its think times are drawn from the plan's distribution (seeded per user). Open model: each virtual user
// sends one request, intended at its arrival.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { threadId } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');

const nowMs = () => performance.timeOrigin + performance.now();
const START_MS = nowMs();
let out = null;
writer(); // the file's first line is START_MS, the run's t0 for qrbench
let plan = null;
const cursors = {};
// Artillery splits the arrivals evenly over its worker threads (one per core but one): user k of thread w
// is qrbench user k * THREADS + w, so the indexes interleave as the arrivals do.
const THREADS = Math.max(1, Number(process.env.QRBENCH_ARTILLERY_THREADS) || 1);
let arrivals = 0;
const rowsByKind = new Map();
let queries = 0; // requests given a new query on this thread (plan.new_queries)

function writer() {
  if (out === null) {
    const dir = process.env.QRBENCH_RAW_DIR || '.';
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `raw-${process.pid}-${threadId}.jsonl`);
    out = fs.openSync(file, 'a');
    fs.writeSync(out, JSON.stringify({ start_ms: START_MS }) + '\n');
  }
  return out;
}

function write(line) {
  fs.writeSync(writer(), JSON.stringify(line) + '\n');
}

function getPlan(context) {
  if (plan === null) {
    plan = JSON.parse(context.vars.qrbenchPlan);
    plan.t0Ms = START_MS; // the processor loads just before the phases start; qrbench's t0 is this too
  }
  return plan;
}

// The users level at t seconds into the run (linear between points; right-continuous at steps).
function level(points, t) {
  let value = points.length ? points[0][1] : 0;
  for (let i = 0; i < points.length; i++) {
    const [t1, v1] = points[i];
    if (t < t1) {
      const [t0, v0] = points[i - 1] || [t1, v1];
      return t1 === t0 ? v1 : v0 + ((v1 - v0) * (t - t0)) / (t1 - t0);
    }
    value = v1;
  }
  return value;
}

// mulberry32: a small seeded generator, so a user's think times repeat run to run.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function thinkSeconds(think, random) {
  if (!think || think.distribution === 'none') return 0;
  if (think.distribution === 'constant') return think.mean_s;
  if (think.distribution === 'exponential') return -think.mean_s * Math.log(1 - random());
  if (think.distribution === 'uniform') return think.low_s + (think.high_s - think.low_s) * random();
  if (think.distribution === 'lognormal') {
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return think.median_s * Math.exp(think.sigma * z);
  }
  return 0;
}

// function step: the user's start (index, intended time, seeded think-time generator).
function qrbenchUser(context, events, next) {
  const p = getPlan(context);
  context.vars.qrbenchArrivalMs = nowMs();
  context.vars.qrbenchUserIndex = p.model === 'closed' ? arrivals++ * THREADS + ((threadId - 1 + THREADS) % THREADS) : -1;
  context.vars.qrbenchRandom = rng(p.seed * 1000003 + Math.floor(context.vars.qrbenchArrivalMs));
  return next();
}

// whileTrue of the closed model's loop: the user stays while the schedule is above its index.
function qrbenchActive(context, next) {
  const p = getPlan(context);
  const t = (nowMs() - p.t0Ms) / 1000;
  return next(t < p.duration_s && level(p.points, t) > context.vars.qrbenchUserIndex);
}

function qrbenchThink(context, events, next) {
  const p = getPlan(context);
  const seconds = thinkSeconds(p.think, context.vars.qrbenchRandom);
  return seconds > 0 ? setTimeout(next, seconds * 1000) : next();
}

// beforeRequest: the next request of this scenario's kind from the pool, and its start time.
function qrbenchRequest(requestParams, context, events, next) {
  const pool = context.vars.qrbenchPool;
  // Open model: this scenario's kind; closed model: the whole pool, whose order holds the mix.
  const kind = getPlan(context).model === 'closed' ? '' : context.scenario.name;
  if (!rowsByKind.has(kind)) rowsByKind.set(kind, kind ? pool.filter((row) => row.kind === kind) : pool);
  const rows = rowsByKind.get(kind);
  // Threads start at different places in the pool, as qrbench's driver processes do.
  const i = cursors[kind] === undefined ? (threadId * 7919) % rows.length : cursors[kind];
  cursors[kind] = (i + 1) % rows.length;
  const { kind: rowKind, endpoint, method, n_candidates: nCandidates } = rows[i];
  let body = rows[i].body;
  if (getPlan(context).new_queries) {
    // A query never sent before (production queries are unique; documents recur), as qrbench's RequestPool.
    const doc = JSON.parse(body);
    const key = typeof doc.query === 'string' ? 'query' : 'text1';
    if (typeof doc[key] === 'string') {
      queries += 1;
      doc[key] += ` [q${threadId}.${queries}]`;
      body = JSON.stringify(doc);
    }
  }
  requestParams.url = endpoint;
  requestParams.body = body;
  requestParams.headers = Object.assign({}, requestParams.headers, { 'content-type': 'application/json' });
  const start = nowMs();
  context.vars.qrbenchSent = {
    kind: rowKind, endpoint, method, n_candidates: Number(nCandidates), bytes_sent: Buffer.byteLength(body),
    user: context.vars.qrbenchUserIndex,
    intended_ms: getPlan(context).model === 'closed' ? start : context.vars.qrbenchArrivalMs,
    start_ms: start,
  };
  return next();
}

// afterResponse: one raw line with the answer.
function qrbenchRecord(requestParams, response, context, events, next) {
  const body = typeof response.body === 'string' ? response.body : String(response.body || '');
  write({ ...context.vars.qrbenchSent, end_ms: nowMs(), status: response.statusCode, body });
  return next();
}

// onError (scenario level): no answer came (refused, reset, timeout); the scenario ends there.
function qrbenchError(error, requestParams, context, events, next) {
  if (context.vars.qrbenchSent) {
    write({ ...context.vars.qrbenchSent, end_ms: nowMs(), status: 0, error: String(error.code || error.name) });
  }
  return next();
}

module.exports = { qrbenchUser, qrbenchActive, qrbenchThink, qrbenchRequest, qrbenchRecord, qrbenchError };
