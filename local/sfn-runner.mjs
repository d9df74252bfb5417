// Runs executions of one state machine definition with aws-local-stepfunctions
// for the Go package local/sfnlocal, which starts it as
//   node --import ./polyfill.mjs sfn-runner.mjs
// with AWS_ENDPOINT_URL_LAMBDA pointing at its Lambda Invoke endpoint.
//
// Protocol: one JSON object per line. stdout carries protocol lines only;
// diagnostics go to stderr.
//   in:  {"op":"init","definition":{...},"retryPauseMs":n,"maxPayloadBytes":n,"stateMachine":{"Id","Name"}}
//        {"op":"start","name":"...","id":"arn:...","input":<json>}
//        {"op":"stop","name":"..."}
//   out: {"event":"ready"} | {"event":"initFailed","error":"..."}
//        {"event":"started","name"} | {"event":"startFailed","name","error"}
//        {"event":"succeeded","name","output"} | {"event":"failed","name","error","cause"}
//        {"event":"aborted","name"}
//
// Task states invoke their Lambda through the AWS SDK's Invoke API, as the
// library does, but from here: a stopped execution must not start another
// task (the library lets queued Map items and retries run once more after an
// abort), and errors are named as Step Functions names them in AWS
// (errorType for a function error with the payload as Cause,
// Lambda.<Exception> for a service error).
//
// Payload quota: as in AWS, a Task's effective input (after Parameters) and
// result, every state's output (after ResultSelector, ResultPath and
// OutputPath), a Map iteration's or Parallel branch's input, and what a Map
// or Parallel state collects from them may each be at most maxPayloadBytes
// (256 KiB) as compact UTF-8 JSON; the execution's input is checked by the Go
// side. Over it, the state fails with States.DataLimitExceeded and AWS's cause
// ("The state/task '<state name, or the Task's Lambda ARN for its result>'
// returned a result with a size exceeding the maximum number of bytes service
// limit."), before any further state or task starts. States.ALL and
// States.TaskFailed do not match that error in Retry or Catch; a retrier or
// catcher naming it does. A state's own output is past its Retry and Catch: it
// fails the execution, or the Map iteration or Parallel branch, whose state
// then sees the error.
import { createInterface } from 'node:readline';
import { StateMachine, ExecutionAbortedError } from 'aws-local-stepfunctions';
import { LambdaClient, InvokeCommand } from '@aws-sdk/client-lambda';

// Anything a dependency logs must not corrupt the protocol on stdout.
for (const level of ['log', 'info', 'debug', 'warn']) {
  console[level] = (...args) => console.error(...args);
}

function send(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

process.on('unhandledRejection', (reason) => {
  console.error('sfn-runner: unhandled rejection:', reason);
});

// One client for every task: connections to the local endpoint are reused.
// Retries belong to the state machine's Retry fields, as in AWS.
const lambda = new LambdaClient({ maxAttempts: 1 });

function namedError(name, message) {
  const err = new Error(message);
  err.name = name;
  return err;
}

// Thrown instead of invoking once an execution is stopped; Retry and Catch
// cannot match it, so the iteration ends without calling anything.
class ExecutionStoppedError extends Error {
  constructor() {
    super('the execution was stopped');
    this.name = 'ExecutionStopped';
  }
  get isRetryable() {
    return false;
  }
  get isCatchable() {
    return false;
  }
}

const DATA_LIMIT_EXCEEDED = 'States.DataLimitExceeded';

// A payload over the quota. AWS documents it as an error States.ALL cannot
// catch; only a rule naming it matches. The library asks isRetryable once per
// retrier and isCatchable once per catcher, in order (StateExecutor.shouldRetry
// and catchError in aws-local-stepfunctions 3.0.0), so each answer is whether
// the rule being tried names the error. states are the states whose rules
// see it, innermost first.
class DataLimitExceededError extends Error {
  #retriers;
  #catchers;
  constructor(subject, states) {
    super(`The state/task '${subject}' returned a result with a size exceeding the maximum number of bytes service limit.`);
    this.name = DATA_LIMIT_EXCEEDED;
    this.#retriers = rulesNamingIt(states, 'Retry');
    this.#catchers = rulesNamingIt(states, 'Catch');
  }
  get isRetryable() {
    return this.#retriers.shift() ?? false;
  }
  get isCatchable() {
    return this.#catchers.shift() ?? false;
  }
}

// rulesNamingIt lists, in the order the library tries them, whether each rule
// names States.DataLimitExceeded. A catcher naming it ends the search; a
// retrier naming it either retries (the next attempt raises a new error) or is
// used up, and then come the state's catchers and the enclosing state's rules.
function rulesNamingIt(states, field) {
  const named = [];
  for (const state of states) {
    for (const rule of state[field] ?? []) {
      const names = rule.ErrorEquals.includes(DATA_LIMIT_EXCEEDED);
      named.push(names);
      if (names && field === 'Catch') return named;
      if (names) break;
    }
  }
  return named;
}

function jsonBytes(value) {
  // JSON.stringify(undefined) is undefined; the library passes it on as null.
  return Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
}

// Invokes a function and returns its result payload as bytes.
async function invoke(functionArn, payload) {
  let response;
  try {
    response = await lambda.send(new InvokeCommand({ FunctionName: functionArn, Payload: payload }));
  } catch (err) {
    const name = err?.$metadata?.httpStatusCode ? `Lambda.${err.name}` : 'Lambda.SdkClientException';
    throw namedError(name, String(err?.message ?? err));
  }
  const bytes = Buffer.from(response.Payload ?? []);
  if (response.FunctionError) {
    const text = bytes.toString('utf8');
    let errorType = 'Lambda.Unknown';
    try {
      const body = JSON.parse(text);
      if (typeof body?.errorType === 'string' && body.errorType !== '') errorType = body.errorType;
    } catch {
      // Not JSON: keep Lambda.Unknown and the raw text as the cause.
    }
    throw namedError(errorType, text);
  }
  return bytes;
}

function parseResult(functionArn, bytes) {
  if (bytes.length === 0) return null;
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw namedError('Lambda.Unknown', `function ${functionArn} returned a payload that is not JSON`);
  }
}

// The processor of a Map state, or the branches of a Parallel state.
function nestedDefinitions(state) {
  const processor = state.ItemProcessor ?? state.Iterator;
  return processor ? [processor] : state.Branches ?? [];
}

// visitStates calls visit(name, state, parent) for every state, nested ones
// included; parent is the Map or Parallel state that runs it, if any.
function visitStates(states, visit, parent) {
  for (const [name, state] of Object.entries(states ?? {})) {
    visit(name, state, parent);
    for (const nested of nestedDefinitions(state)) visitStates(nested.States, visit, state);
  }
}

let machine = null;
let stateMachineContext = {};
let tasks = new Map(); // Task state name -> { resource, state }
let retryIntervalOverrides;
let maxPayloadBytes = 0;
let enclosing = new WeakMap(); // state definition -> the Map or Parallel state running it
let owners = new WeakMap(); // processor or branch definition -> { name, state } of its Map or Parallel state
const running = new Map(); // execution name -> { stopped, execution }

// withEnclosing is state and the Map and Parallel states around it, innermost
// first: the states whose Retry and Catch an error raised in state meets.
function withEnclosing(state) {
  const states = [];
  for (let s = state; s; s = enclosing.get(s)) states.push(s);
  return states;
}

function init(message) {
  const definition = message.definition;
  if (!Number.isInteger(message.maxPayloadBytes) || message.maxPayloadBytes <= 0) {
    throw new Error('init needs maxPayloadBytes, a positive integer');
  }
  const found = new Map();
  const parents = new WeakMap();
  const nested = new WeakMap();
  const retried = {};
  visitStates(definition?.States, (name, state, parent) => {
    if (parent) parents.set(state, parent);
    for (const d of nestedDefinitions(state)) nested.set(d, { name, state });
    if (state.Type === 'Task' && typeof state.Resource === 'string') {
      if (found.has(name) && found.get(name).resource !== state.Resource) {
        throw new Error(`Task state name ${name} is used with two resources`);
      }
      // State names are unique in a valid state machine; the first one stands for any repeat.
      if (!found.has(name)) found.set(name, { resource: state.Resource, state });
    }
    if (Array.isArray(state.Retry) && message.retryPauseMs > 0) retried[name] = message.retryPauseMs;
  });
  machine = new StateMachine(definition);
  tasks = found;
  enclosing = parents;
  owners = nested;
  maxPayloadBytes = message.maxPayloadBytes;
  retryIntervalOverrides = message.retryPauseMs > 0 ? retried : undefined;
  stateMachineContext = message.stateMachine ?? {};
}

// The library runs the root execution, every Map iteration and every
// Parallel branch as a StateMachine execution; these wrappers check the
// payloads it passes between states.
const libraryRun = StateMachine.prototype.run;
const libraryExecute = StateMachine.prototype.execute;
const mapResults = new WeakMap(); // a Map attempt's iteration machine -> what it collected
const branchResults = new WeakMap(); // an execution's run options -> Parallel state -> what the attempt collected

StateMachine.prototype.execute = function (input, options, cleanup) {
  const { States: states } = this.definition;
  const logger = options.eventLogger;
  const exited = logger.dispatchStateExitedEvent;
  // Called as a state ends and before the next starts; throwing ends this
  // execution, past the state's own Retry and Catch.
  logger.dispatchStateExitedEvent = function (name, type, stateInput, output) {
    if (jsonBytes(output) > maxPayloadBytes) {
      throw new DataLimitExceededError(name, withEnclosing(enclosing.get(states[name])));
    }
    return exited.call(this, name, type, stateInput, output);
  };
  // Each attempt of a Parallel state collects from scratch. Its branches get
  // options.runOptions from this execution: that keys what they collect.
  for (const method of ['dispatchStateEnteredEvent', 'dispatchStateRetriedEvent']) {
    const dispatch = logger[method];
    logger[method] = function (name, ...rest) {
      if (states[name]?.Type === 'Parallel') {
        if (!branchResults.has(options.runOptions)) branchResults.set(options.runOptions, new Map());
        branchResults.get(options.runOptions).set(states[name], { bytes: 0, count: 0, failure: null });
      }
      return dispatch.call(this, name, ...rest);
    };
  }
  return libraryExecute.call(this, input, options, cleanup);
};

StateMachine.prototype.run = function (input, options) {
  const owner = owners.get(this.definition);
  if (!owner) return libraryRun.call(this, input, options);
  // A Map attempt builds one machine for all its iterations; a Parallel one
  // builds one per branch.
  let collected;
  if (owner.state.Type === 'Map') {
    if (!mapResults.has(this)) mapResults.set(this, { bytes: 0, count: 0, failure: null });
    collected = mapResults.get(this);
  } else {
    collected = branchResults.get(options)?.get(owner.state) ?? { bytes: 0, count: 0, failure: null };
  }
  // Once an iteration has failed, the state has: queued ones (which the
  // library would still start) run nothing.
  if (collected.failure) return failedRun(collected.failure);
  const exceeded = () => new DataLimitExceededError(owner.name, withEnclosing(owner.state));
  if (jsonBytes(input) > maxPayloadBytes) {
    collected.failure = exceeded();
    return failedRun(collected.failure);
  }
  const execution = libraryRun.call(this, input, options);
  const result = execution.result.then(
    (output) => {
      collected.bytes += jsonBytes(output);
      collected.count += 1;
      // [a,b,c]: the outputs, count-1 commas and two brackets.
      if (collected.bytes + collected.count + 1 <= maxPayloadBytes) return output;
      collected.failure = exceeded();
      throw collected.failure;
    },
    (err) => {
      collected.failure ??= err;
      throw err;
    },
  );
  return { ...execution, result };
};

function failedRun(err) {
  return { abort() {}, eventLogs: (async function* () {})(), result: Promise.reject(err) };
}

async function drain(events) {
  // Consumed so the event log does not grow for the life of an execution.
  for await (const _ of events);
}

function start({ name, id, input }) {
  if (running.has(name)) {
    send({ event: 'startFailed', name, error: `execution ${name} is already running` });
    return;
  }
  const entry = { stopped: false, execution: null };
  const handlers = {};
  for (const [stateName, task] of tasks) {
    handlers[stateName] = async (taskInput) => {
      if (entry.stopped) throw new ExecutionStoppedError();
      const payload = Buffer.from(JSON.stringify(taskInput));
      if (payload.length > maxPayloadBytes) throw new DataLimitExceededError(stateName, withEnclosing(task.state));
      const result = await invoke(task.resource, payload);
      // AWS names the function, not the state, when its result is too large.
      if (result.length > maxPayloadBytes) throw new DataLimitExceededError(task.resource, withEnclosing(task.state));
      return parseResult(task.resource, result);
    };
  }
  try {
    entry.execution = machine.run(input, {
      overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides },
      context: { Execution: { Id: id, Name: name }, StateMachine: stateMachineContext },
    });
  } catch (err) {
    send({ event: 'startFailed', name, error: String(err?.message ?? err) });
    return;
  }
  running.set(name, entry);
  send({ event: 'started', name });
  drain(entry.execution.eventLogs).catch((err) => console.error('sfn-runner: event log:', err));
  entry.execution.result.then(
    (output) => send({ event: 'succeeded', name, output: output ?? null }),
    (err) => {
      if (err instanceof ExecutionAbortedError) {
        send({ event: 'aborted', name });
        return;
      }
      // ExecutionError wraps the error that ended the execution.
      const cause = err?.cause instanceof Error ? err.cause : err;
      send({ event: 'failed', name, error: String(cause?.name ?? 'Error'), cause: String(cause?.message ?? cause) });
    },
  ).finally(() => running.delete(name));
}

function stop({ name }) {
  const entry = running.get(name);
  if (!entry) return;
  entry.stopped = true;
  entry.execution.abort();
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  let message;
  try {
    message = JSON.parse(line);
  } catch (err) {
    console.error('sfn-runner: ignoring a line that is not JSON:', err.message);
    return;
  }
  switch (message.op) {
    case 'init':
      try {
        init(message);
        send({ event: 'ready' });
      } catch (err) {
        send({ event: 'initFailed', error: String(err?.message ?? err) });
        process.exit(1);
      }
      break;
    case 'start':
      if (!machine) {
        send({ event: 'startFailed', name: message.name, error: 'the runner was not initialised' });
        break;
      }
      start(message);
      break;
    case 'stop':
      stop(message);
      break;
    default:
      console.error(`sfn-runner: unknown op ${JSON.stringify(message.op)}`);
  }
});
// The Go side closed stdin (or died): nothing more can be asked of us.
lines.on('close', () => process.exit(0));
