// Local Step Functions for jitsudo-serverless.
//
// Runs the real ASL files with aws-local-stepfunctions and exposes the subset
// of the Step Functions JSON 1.0 API the Go SDK (service/sfn) uses:
// StartExecution, DescribeExecution, StopExecution, SendTaskSuccess,
// SendTaskFailure, SendTaskHeartbeat. Lambda Task states
// (arn:aws:states:::lambda:invoke, its .waitForTaskToken variant, and plain
// Lambda function ARNs) call a Lambda Invoke-compatible HTTP endpoint
// (POST <lambda-endpoint>/2015-03-31/functions/<name>/invocations).
// aws-local-stepfunctions has no callback-token service, so this shim keeps
// the task tokens. When the environment sets JITSUDO_LAMBDA_SECRET, every
// invoke carries it in the X-Jitsudo-Lambda-Secret header (the endpoint's
// proof that the call comes from this process; see RequireLambdaSecret in
// stepfunctions.go). It is read from the environment, not the command line,
// so `ps` does not show it.
//
// Usage:
//   node --require ./polyfill.cjs --require ./lazy.cjs shim.mjs --port 0 --lambda-endpoint URL \
//     [--substitutions JSON] [--region us-east-1] [--account 000000000000]
//     [--time-scale N --time-origin MS] file.asl.json...
//
// A state machine's name is its file name without .asl.json (or .json); its
// ARN is arn:aws:states:<region>:<account>:stateMachine:<name>. When
// listening, the shim prints one line {"listening":"http://127.0.0.1:<port>"}.
//
// Non-standard, for tests: GET /debug/executions/<name> returns the
// execution with its state-transition count (states entered plus retries,
// what Step Functions bills) and the states it entered; DescribeExecution
// carries the count as the extra field stateTransitions.
//
// Known differences from AWS: HeartbeatSeconds is not enforced; Wait states
// longer than ~24.8 days (Node's timer limit) end at once; a StopExecution
// does not wait for a running Lambda invocation; history APIs are absent.

import { createServer } from 'node:http';
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

// The engine's CommonJS build: its requires go through Module._load, where
// lazy.cjs (node --require) defers the modules it loads but this shim
// never uses. The ES module build's imports cannot be deferred that way.
const { StateMachine } = createRequire(import.meta.url)('aws-local-stepfunctions');

const { values: opts, positionals: files } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'lambda-endpoint': { type: 'string', default: '' },
    substitutions: { type: 'string', default: '{}' },
    region: { type: 'string', default: 'us-east-1' },
    account: { type: 'string', default: '000000000000' },
    verbose: { type: 'boolean', default: false },
    'time-scale': { type: 'string', default: '1' },
    'time-origin': { type: 'string', default: '0' },
  },
});

// --time-scale N (tests of the local stack): this process's clock runs N
// times as fast as the wall clock from --time-origin (ms since the epoch)
// on, as the caller's does. Date.now() is scaled, so Wait states'
// Timestamp/TimestampPath compare against it, and so are the delays of the
// timers the engine (Wait Seconds, retry intervals, task timeouts) and this
// shim (a .waitForTaskToken task's timeout) set. Node's own timers (HTTP
// keep-alive, fetch) keep real time.
const timeScale = Number(opts['time-scale']);
if (!(timeScale >= 1)) throw new Error(`--time-scale ${opts['time-scale']}: want a number >= 1`);
if (timeScale > 1) {
  const origin = Number(opts['time-origin']);
  const realNow = Date.now;
  Date.now = () => Math.floor(origin + (realNow() - origin) * timeScale);
  const realSetTimeout = globalThis.setTimeout;
  globalThis.setTimeout = function scaledSetTimeout(fn, ms, ...rest) {
    const caller = new Error().stack.split('\n')[2] ?? '';
    const ours = caller.includes('aws-local-stepfunctions') || caller.includes('shim.mjs');
    return realSetTimeout(fn, ours && ms > 0 ? ms / timeScale : ms, ...rest);
  };
}

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const LAMBDA_WAIT = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const TIMEOUT_KEY = '__shim_timeout_seconds';
const MAX_TIMER_SECONDS = 2147483; // setTimeout's limit, in seconds
const lambdaEndpoint = opts['lambda-endpoint'].replace(/\/+$/, '');
const lambdaSecret = process.env.JITSUDO_LAMBDA_SECRET ?? '';
delete process.env.JITSUDO_LAMBDA_SECRET;

function log(msg, fields = {}) {
  if (opts.verbose || fields.level === 'error') {
    process.stderr.write(JSON.stringify({ time: new Date().toISOString(), component: 'stepfunctions', msg, ...fields }) + '\n');
  }
}

// ---------------------------------------------------------------- errors

class ApiError extends Error {
  constructor(type, message, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

// An error a Task state fails with: name is the States Language error name.
class TaskError extends Error {
  constructor(name, cause) {
    super(cause);
    this.name = name;
  }
}

// ---------------------------------------------------------------- definitions

function substitute(text, subs, file) {
  for (const [k, v] of Object.entries(subs)) {
    // Values are placed inside JSON strings: escape them as JSON would.
    text = text.split('${' + k + '}').join(JSON.stringify(String(v)).slice(1, -1));
  }
  const left = text.match(/\$\{[A-Za-z0-9_]+\}/g);
  if (left) {
    throw new Error(`${file}: no DefinitionSubstitutions for ${[...new Set(left)].join(', ')}`);
  }
  return text;
}

// walkStates calls fn(name, state) for every state, nested ones included.
function walkStates(def, fn) {
  for (const [name, state] of Object.entries(def.States ?? {})) {
    fn(name, state);
    for (const branch of state.Branches ?? []) walkStates(branch, fn);
    if (state.Iterator) walkStates(state.Iterator, fn);
    if (state.ItemProcessor) walkStates(state.ItemProcessor, fn);
  }
}

// prepare returns the definition the engine runs and the Task states' local
// handler factories. A .waitForTaskToken task's timeout is also handed to
// the handler through a hidden Parameters key, because the engine evaluates
// TimeoutSecondsPath against the Parameters output (AWS evaluates it against
// the state input); the engine reads it from there too.
function prepare(def, file) {
  const tasks = {};
  walkStates(def, (name, state) => {
    if (state.Type !== 'Task') return;
    if (tasks[name]) throw new Error(`${file}: Task state name ${name} is used twice`);
    const r = state.Resource;
    if (r === LAMBDA_INVOKE || r === LAMBDA_WAIT) {
      if (!state.Parameters || typeof state.Parameters.FunctionName !== 'string') {
        throw new Error(`${file}: ${name}: ${r} needs Parameters.FunctionName (a literal)`);
      }
    } else if (!/^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$/.test(r)) {
      throw new Error(`${file}: ${name}: unsupported Task resource ${r}`);
    }
    const t = { resource: r, staticTimeout: undefined, hasTimeout: false };
    if (r === LAMBDA_WAIT) {
      if (state.TimeoutSecondsPath !== undefined) {
        state.Parameters = { ...state.Parameters, [TIMEOUT_KEY + '.$']: state.TimeoutSecondsPath };
        state.TimeoutSecondsPath = '$.' + TIMEOUT_KEY;
        t.hasTimeout = true;
      } else if (state.TimeoutSeconds !== undefined) {
        t.staticTimeout = state.TimeoutSeconds;
        t.hasTimeout = true;
      } else {
        state.TimeoutSeconds = MAX_TIMER_SECONDS; // AWS: no task timeout
      }
    }
    tasks[name] = t;
  });
  return tasks;
}

const validCache = join(dirname(fileURLToPath(import.meta.url)), 'node_modules', '.cache', 'jitsudo-asl-valid');

function loadMachine(file, subs) {
  const text = substitute(readFileSync(file, 'utf8'), subs, file);
  const def = JSON.parse(text);
  const tasks = prepare(def, file);
  const name = basename(file).replace(/\.asl\.json$|\.json$/, '');
  // Validating a definition (asl-validator's JSON schemas) is half of this
  // process's start-up CPU. A definition text that validated once is
  // remembered by its hash in node_modules/.cache, so the test suites'
  // many local stacks validate the same definition once; an edited
  // definition is validated again.
  const marker = join(validCache, createHash('sha256').update(text).digest('hex'));
  const known = existsSync(marker);
  const machine = new StateMachine(def, {
    validationOptions: known ? { noValidate: true } : { checkPaths: true, checkArn: true },
  });
  if (!known) {
    try {
      mkdirSync(validCache, { recursive: true });
      writeFileSync(marker, file + '\n');
    } catch {
      // Unwritable cache: validate again next time.
    }
  }
  return { name, arn: `arn:aws:states:${opts.region}:${opts.account}:stateMachine:${name}`, machine, tasks };
}

// ---------------------------------------------------------------- Lambda

function functionName(nameOrArn) {
  const m = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(:[^:]+)?$/.exec(nameOrArn);
  return m ? m[1] : nameOrArn;
}

async function invokeLambda(nameOrArn, payload) {
  const fn = functionName(nameOrArn);
  if (!lambdaEndpoint) throw new TaskError('Lambda.SdkClientException', 'the shim has no --lambda-endpoint');
  let resp, body;
  try {
    resp = await fetch(`${lambdaEndpoint}/2015-03-31/functions/${encodeURIComponent(fn)}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(lambdaSecret ? { 'x-jitsudo-lambda-secret': lambdaSecret } : {}) },
      body: JSON.stringify(payload ?? null),
    });
    body = await resp.text();
  } catch (err) {
    throw new TaskError('Lambda.SdkClientException', `invoke ${fn}: ${err.message}`);
  }
  if (resp.status === 429) throw new TaskError('Lambda.TooManyRequestsException', body);
  if (resp.status === 404) throw new TaskError('Lambda.ResourceNotFoundException', body);
  if (resp.status !== 200) throw new TaskError('Lambda.ServiceException', `invoke ${fn}: HTTP ${resp.status}: ${body}`);
  let value = null;
  if (body !== '') {
    try {
      value = JSON.parse(body);
    } catch {
      value = body;
    }
  }
  if (resp.headers.get('x-amz-function-error')) {
    const type = value && typeof value === 'object' && typeof value.errorType === 'string' && value.errorType ? value.errorType : 'Lambda.Unknown';
    log('lambda function error', { function: fn, errorType: type });
    throw new TaskError(type, body);
  }
  return value;
}

function invokeResult(payload) {
  return {
    ExecutedVersion: '$LATEST',
    Payload: payload,
    SdkHttpMetadata: { HttpStatusCode: 200 },
    SdkResponseMetadata: { RequestId: randomUUID() },
    StatusCode: 200,
  };
}

// ---------------------------------------------------------------- executions and tokens

const machines = new Map(); // arn -> machine
const executions = new Map(); // execution arn -> execution
const tokens = new Map(); // token -> {exec, state, status: waiting|done|timed_out|failed|stopped, resolve, reject, timer}

function newToken() {
  return 'lsfn1.' + randomBytes(32).toString('base64url');
}

function closeToken(t, status) {
  if (t.status !== 'waiting') return false;
  t.status = status;
  if (t.timer) clearTimeout(t.timer);
  return true;
}

// handlers builds the engine's taskResourceLocalHandlers for one execution.
function handlers(m, exec) {
  const out = {};
  for (const [stateName, t] of Object.entries(m.tasks)) {
    if (t.resource === LAMBDA_INVOKE) {
      out[stateName] = async (input) => invokeResult(await invokeLambda(input.FunctionName, input.Payload));
    } else if (t.resource === LAMBDA_WAIT) {
      out[stateName] = (input) => waitForToken(exec, stateName, t, input);
    } else {
      out[stateName] = (input) => invokeLambda(t.resource, input);
    }
  }
  return out;
}

function waitForToken(exec, stateName, t, input) {
  // The engine resolved Parameters just before calling us (synchronously),
  // so the token $$.Task.Token handed out is exec.pendingToken.
  const token = exec.pendingToken ?? newToken();
  exec.pendingToken = null;
  const rec = { exec, state: stateName, status: 'waiting' };
  const settled = new Promise((resolve, reject) => {
    rec.resolve = resolve;
    rec.reject = reject;
  });
  tokens.set(token, rec);
  exec.tokens.add(token);
  const timeout = t.staticTimeout ?? input[TIMEOUT_KEY];
  if (t.hasTimeout && Number.isInteger(timeout) && timeout >= 1) {
    // The engine arms its own timer (States.Timeout) with the same duration
    // right after this call returns; ours fires first and only closes the
    // token, so a late SendTaskSuccess gets TaskTimedOut.
    rec.timer = setTimeout(() => {
      if (closeToken(rec, 'timed_out')) log('task timed out', { execution: exec.name, state: stateName });
    }, Math.min(timeout, MAX_TIMER_SECONDS) * 1000);
  }
  const { [TIMEOUT_KEY]: _, ...params } = input;
  const invoked = invokeLambda(params.FunctionName, params.Payload);
  // A decision can arrive while the Lambda still runs (it may even send it
  // itself); whichever settles first wins.
  return Promise.race([settled, invoked.then(() => settled)]).catch((err) => {
    closeToken(rec, 'failed');
    throw err;
  });
}

function startExecution(m, name, inputText) {
  let input;
  try {
    input = inputText === undefined || inputText === '' ? {} : JSON.parse(inputText);
  } catch (err) {
    throw new ApiError('InvalidExecutionInput', `input is not JSON: ${err.message}`);
  }
  const arn = `arn:aws:states:${opts.region}:${opts.account}:execution:${m.name}:${name}`;
  const exec = {
    arn, name, machine: m, input: inputText ?? '{}', status: 'RUNNING', startDate: Date.now() / 1000,
    transitions: 0, retries: 0, states: [], tokens: new Set(), pendingToken: null,
  };
  const context = {
    Execution: { Id: arn, Name: name, RoleArn: `arn:aws:iam::${opts.account}:role/local-stepfunctions` },
    StateMachine: { Id: m.arn, Name: m.name },
    // A fresh token per task attempt: read while the engine resolves the
    // Task's Parameters, taken by the task's handler right after.
    Task: {
      get Token() {
        exec.pendingToken ??= newToken();
        return exec.pendingToken;
      },
    },
  };
  const run = m.machine.run(input, { context, overrides: { taskResourceLocalHandlers: handlers(m, exec) } });
  exec.abort = run.abort;
  executions.set(arn, exec);
  log('execution started', { execution: name, machine: m.name });

  const eventsDone = (async () => {
    for await (const ev of run.eventLogs) {
      if (ev.type === 'StateEntered') {
        exec.transitions++;
        exec.states.push(ev.state.name);
      } else if (ev.type === 'StateRetried') {
        exec.transitions++;
        exec.retries++;
      }
    }
  })();
  const finish = (fields) => {
    Object.assign(exec, fields, { stopDate: exec.stopDate ?? Date.now() / 1000 });
    for (const t of exec.tokens) closeToken(tokens.get(t), exec.status === 'ABORTED' ? 'stopped' : 'done');
    log('execution finished', { execution: name, status: exec.status, error: exec.error, transitions: exec.transitions });
  };
  run.result.then(
    async (output) => {
      await eventsDone;
      finish({ status: 'SUCCEEDED', output: JSON.stringify(output ?? null) });
    },
    async (err) => {
      await eventsDone;
      if (exec.status === 'ABORTED') return finish({});
      if (err?.name === 'ExecutionTimeoutError') return finish({ status: 'TIMED_OUT', error: 'States.Timeout', cause: err.message });
      const cause = err?.cause instanceof Error ? err.cause : err;
      finish({ status: 'FAILED', error: cause?.name ?? 'Error', cause: cause?.message ?? String(err) });
    },
  );
  return exec;
}

// ---------------------------------------------------------------- API

function executionOf(arn) {
  const e = executions.get(arn);
  if (!e) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
  return e;
}

function tokenOf(token) {
  if (typeof token !== 'string' || token.length < 1 || token.length > 2048) throw new ApiError('InvalidToken', 'Invalid Token');
  const t = tokens.get(token);
  if (!t) {
    if (!token.startsWith('lsfn1.')) throw new ApiError('InvalidToken', `Invalid Token: '${token.slice(0, 40)}'`);
    throw new ApiError('TaskDoesNotExist', 'Task Does Not Exist');
  }
  if (t.status !== 'waiting') throw new ApiError('TaskTimedOut', `Task Timed Out: 'Provided task does not exist anymore' (${t.status})`);
  return t;
}

function describe(e) {
  const out = {
    executionArn: e.arn, stateMachineArn: e.machine.arn, name: e.name, status: e.status,
    startDate: e.startDate, input: e.input, stateTransitions: e.transitions,
  };
  if (e.stopDate) out.stopDate = e.stopDate;
  if (e.output !== undefined) out.output = e.output;
  if (e.error !== undefined) out.error = e.error;
  if (e.cause !== undefined) out.cause = e.cause;
  return out;
}

const ops = {
  StartExecution(req) {
    const m = machines.get(req.stateMachineArn);
    if (!m) throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${req.stateMachineArn}'`);
    const name = req.name ?? randomUUID();
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new ApiError('InvalidName', `Invalid Name: '${name}'`);
    const arn = `arn:aws:states:${opts.region}:${opts.account}:execution:${m.name}:${name}`;
    const prev = executions.get(arn);
    if (prev) {
      // Same name, same input, still running: idempotent (as in AWS).
      if (prev.status === 'RUNNING' && prev.input === (req.input ?? '{}')) return { executionArn: arn, startDate: prev.startDate };
      throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    const e = startExecution(m, name, req.input);
    return { executionArn: e.arn, startDate: e.startDate };
  },
  DescribeExecution(req) {
    return describe(executionOf(req.executionArn));
  },
  StopExecution(req) {
    const e = executionOf(req.executionArn);
    if (e.status === 'RUNNING') {
      e.status = 'ABORTED';
      e.stopDate = Date.now() / 1000;
      if (req.error !== undefined) e.error = req.error;
      if (req.cause !== undefined) e.cause = req.cause;
      for (const t of e.tokens) closeToken(tokens.get(t), 'stopped');
      e.abort();
    }
    return { stopDate: e.stopDate };
  },
  SendTaskSuccess(req) {
    const t = tokenOf(req.taskToken);
    let output;
    try {
      output = JSON.parse(req.output);
    } catch (err) {
      throw new ApiError('InvalidOutput', `Invalid Output: ${err.message}`);
    }
    closeToken(t, 'done');
    log('task success', { execution: t.exec.name, state: t.state });
    t.resolve(output);
    return {};
  },
  SendTaskFailure(req) {
    const t = tokenOf(req.taskToken);
    closeToken(t, 'done');
    log('task failure', { execution: t.exec.name, state: t.state, error: req.error });
    t.reject(new TaskError(req.error ?? 'States.TaskFailed', req.cause ?? ''));
    return {};
  },
  SendTaskHeartbeat(req) {
    tokenOf(req.taskToken);
    return {};
  },
};

function send(res, status, body, headers = {}) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

function sendError(res, err) {
  const type = err instanceof ApiError ? err.type : 'InternalFailure';
  const status = err instanceof ApiError ? err.status : 500;
  if (!(err instanceof ApiError)) log('internal error', { level: 'error', error: String(err?.stack ?? err) });
  send(res, status, { __type: type, message: err.message }, { 'x-amzn-errortype': type });
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://local');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      return send(res, 200, { status: 'ok', stateMachines: [...machines.keys()] });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/debug/executions/')) {
      const key = decodeURIComponent(url.pathname.slice('/debug/executions/'.length));
      const e = executions.get(key) ?? [...executions.values()].find((x) => x.name === key);
      if (!e) return send(res, 404, { __type: 'ExecutionDoesNotExist', message: key });
      return send(res, 200, { ...describe(e), retries: e.retries, states: e.states });
    }
    if (req.method !== 'POST' || url.pathname !== '/') {
      return send(res, 404, { __type: 'UnknownOperationException', message: `${req.method} ${url.pathname}` });
    }
    const target = req.headers['x-amz-target'] ?? '';
    const op = target.startsWith('AWSStepFunctions.') ? ops[target.slice('AWSStepFunctions.'.length)] : undefined;
    const text = await readBody(req);
    if (!op) throw new ApiError('UnknownOperationException', `unsupported operation ${target}`);
    let body;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new ApiError('SerializationException', 'request body is not JSON');
    }
    send(res, 200, op(body));
  } catch (err) {
    sendError(res, err);
  }
});

try {
  const subs = JSON.parse(opts.substitutions);
  if (files.length === 0) throw new Error('no ASL files given');
  for (const f of files) {
    const m = loadMachine(f, subs);
    machines.set(m.arn, m);
  }
} catch (err) {
  process.stderr.write(`stepfunctions shim: ${err.message}\n`);
  process.exit(2);
}

server.listen(Number(opts.port), opts.host, () => {
  const { address, port } = server.address();
  process.stdout.write(JSON.stringify({ listening: `http://${address}:${port}`, stateMachines: [...machines.keys()] }) + '\n');
});

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
