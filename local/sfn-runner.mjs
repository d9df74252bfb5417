// Runs executions of one state machine definition with aws-local-stepfunctions
// for the Go package local/sfnlocal, which starts it as
//   node --import ./polyfill.mjs sfn-runner.mjs
// with AWS_ENDPOINT_URL_LAMBDA pointing at its Lambda Invoke endpoint.
//
// Protocol: one JSON object per line. stdout carries protocol lines only;
// diagnostics go to stderr.
//   in:  {"op":"init","definition":{...},"retryPauseMs":n,"stateMachine":{"Id","Name"}}
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

async function invoke(functionArn, input) {
  let response;
  try {
    response = await lambda.send(
      new InvokeCommand({ FunctionName: functionArn, Payload: Buffer.from(JSON.stringify(input)) }),
    );
  } catch (err) {
    const name = err?.$metadata?.httpStatusCode ? `Lambda.${err.name}` : 'Lambda.SdkClientException';
    throw namedError(name, String(err?.message ?? err));
  }
  const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
  if (response.FunctionError) {
    let errorType = 'Lambda.Unknown';
    try {
      const body = JSON.parse(text);
      if (typeof body?.errorType === 'string' && body.errorType !== '') errorType = body.errorType;
    } catch {
      // Not JSON: keep Lambda.Unknown and the raw text as the cause.
    }
    throw namedError(errorType, text);
  }
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    throw namedError('Lambda.Unknown', `function ${functionArn} returned a payload that is not JSON`);
  }
}

// visitStates calls visit(name, state) for every state, nested ones included.
function visitStates(states, visit) {
  for (const [name, state] of Object.entries(states ?? {})) {
    visit(name, state);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) visitStates(processor.States, visit);
    for (const branch of state.Branches ?? []) visitStates(branch.States, visit);
  }
}

let machine = null;
let stateMachineContext = {};
let taskResources = new Map(); // state name -> Lambda ARN
let retryIntervalOverrides;
const running = new Map(); // execution name -> { stopped, execution }

function init(message) {
  const definition = message.definition;
  const resources = new Map();
  const retried = {};
  visitStates(definition?.States, (name, state) => {
    if (state.Type === 'Task' && typeof state.Resource === 'string') {
      if (resources.has(name) && resources.get(name) !== state.Resource) {
        throw new Error(`Task state name ${name} is used with two resources`);
      }
      resources.set(name, state.Resource);
    }
    if (Array.isArray(state.Retry) && message.retryPauseMs > 0) retried[name] = message.retryPauseMs;
  });
  machine = new StateMachine(definition);
  taskResources = resources;
  retryIntervalOverrides = message.retryPauseMs > 0 ? retried : undefined;
  stateMachineContext = message.stateMachine ?? {};
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
  for (const [stateName, resource] of taskResources) {
    handlers[stateName] = async (taskInput) => {
      if (entry.stopped) throw new ExecutionStoppedError();
      return invoke(resource, taskInput);
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
