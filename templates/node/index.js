'use strict';
// Entry of the node template: a warm Node.js process serving HTTP on loopback with the built-in
// http module. fwatchdog (mode=http) starts it once and proxies every request to it at
// upstream_url. Each request becomes `handler(event, context)`, as in OpenFaaS's node templates:
//
//   event:   body (parsed JSON for application/json, else a string), rawBody (a Buffer),
//            headers, method, query ({name: value or [values]}), path
//   context: status(n), headers({...}) (chainable), succeed(value), fail(error), hostname
//
// The answer is what succeed() gets, or else what the handler returns (or resolves to): a
// string is text/plain, a Buffer application/octet-stream, an object or array JSON. A thrown
// error, a rejection or fail(err) is a 500 (or the status set) with the error's text; the
// process keeps serving.
const http = require('http');
const os = require('os');
const path = require('path');

class FunctionEvent {
  constructor(req, url, rawBody, body) {
    this.body = body;
    this.rawBody = rawBody;
    this.headers = req.headers;
    this.method = req.method;
    this.query = {};
    for (const [name, value] of url.searchParams) {
      if (!(name in this.query)) this.query[name] = value;
      else if (Array.isArray(this.query[name])) this.query[name].push(value);
      else this.query[name] = [this.query[name], value];
    }
    this.path = url.pathname;
  }
}

class FunctionContext {
  constructor(done) {
    this.statusCode = 200;
    this.headerValues = {};
    this.hostname = os.hostname();
    this.cbCalled = 0;
    this.done = done;
  }

  status(statusCode) {
    if (statusCode === undefined) return this.statusCode;
    this.statusCode = statusCode;
    return this;
  }

  headers(values) {
    if (values === undefined) return this.headerValues;
    this.headerValues = values;
    return this;
  }

  succeed(value) {
    this.cbCalled++;
    this.done(undefined, value);
  }

  fail(error) {
    if (this.statusCode === 200) this.statusCode = 500;
    this.cbCalled++;
    this.done(error === undefined ? new Error('failed') : error);
  }
}

function encode(value, headers) {
  const hasType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
  const type = (contentType) => { if (!hasType) headers['Content-Type'] = contentType; };
  if (value === undefined || value === null) return '';
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    type('application/octet-stream');
    return value;
  }
  if (typeof value === 'object') {
    type('application/json');
    return JSON.stringify(value);
  }
  type('text/plain; charset=utf-8');
  return String(value);
}

function errorText(error) {
  if (error instanceof Error) return error.toString();
  if (typeof error === 'string') return error;
  try { return JSON.stringify(error); } catch (_) { return String(error); }
}

function isJson(contentType) {
  return /^application\/([\w.+-]*\+)?json\s*(;|$)/i.test(contentType || '');
}

let handler;  // set by load()

function serve(req, res, rawBody) {
  const url = new URL(req.url, 'http://localhost');
  let body = rawBody.toString('utf8');
  if (isJson(req.headers['content-type'])) {
    try {
      body = body.trim() === '' ? {} : JSON.parse(body);
    } catch (error) {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`Invalid JSON body: ${error.message}\n`);
      return;
    }
  }
  let answered = false;
  const context = new FunctionContext((error, value) => {
    if (answered) {
      console.error('node: the function answered more than once; extra answer dropped');
      return;
    }
    answered = true;
    try {
      if (error !== undefined) {
        console.error(error instanceof Error && error.stack ? error.stack : errorText(error));
        const status = context.statusCode >= 400 ? context.statusCode : 500;
        res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(errorText(error) + '\n');
        return;
      }
      const headers = { ...context.headerValues };
      const payload = encode(value, headers);
      res.writeHead(context.statusCode, headers);
      res.end(payload);
    } catch (failure) {  // e.g. an invalid status code or header value
      console.error(failure.stack || String(failure));
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(errorText(failure) + '\n');
      } else {
        res.destroy(failure);
      }
    }
  });
  const event = new FunctionEvent(req, url, rawBody, body);
  Promise.resolve()
    .then(() => handler(event, context))
    .then((value) => { if (!context.cbCalled) context.succeed(value); })
    .catch((error) => {
      if (answered) console.error(error);
      else context.fail(error);
    });
}

// Where upstream_url points (127.0.0.1:3000 by default); http_port, when set, is the port. The
// gateway's local provider runs several replicas on one host and gives each its own port in
// http_port; the Docker image leaves it unset.
function listenAddress() {
  const upstream = new URL(process.env.upstream_url || 'http://127.0.0.1:3000');
  let port = Number(upstream.port) || 3000;
  const httpPort = process.env.http_port;
  if (httpPort) {
    port = /^[0-9]+$/.test(httpPort) ? Number(httpPort) : 0;
    if (port < 1 || port > 65535) throw new Error(`http_port=${httpPort} is not a port number`);
  }
  return { host: upstream.hostname || '127.0.0.1', port };
}

async function load() {
  const file = path.join(__dirname, 'function', 'handler.js');
  let loaded;
  try {
    loaded = require(file);
  } catch (error) {
    if (error.code !== 'ERR_REQUIRE_ESM') throw error;
    loaded = await import(file);  // "type": "module" in function/package.json
  }
  const fn = typeof loaded === 'function' ? loaded : loaded && loaded.default;
  if (typeof fn !== 'function') throw new Error('function/handler.js must export a function');
  return fn;
}

async function main() {
  handler = await load();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => serve(req, res, Buffer.concat(chunks)));
    req.on('error', (error) => console.error(`node: reading the request: ${error.message}`));
  });
  // The watchdog keeps its connections open between requests; let them idle for a while.
  server.keepAliveTimeout = 60 * 1000;
  server.headersTimeout = 65 * 1000;
  server.on('error', (error) => {  // e.g. the port is taken: exit, so the watchdog restarts us
    console.error(`node: ${error.message}`);
    process.exit(1);
  });
  const { host, port } = listenAddress();
  server.listen(port, host, () => console.error(`node: serving on ${host}:${port}`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// A stray rejection or exception in a handler's background work is logged, not fatal.
process.on('unhandledRejection', (reason) => console.error('node: unhandled rejection:', reason));
process.on('uncaughtException', (error) => console.error('node: uncaught exception:', error));

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

module.exports = { FunctionContext, FunctionEvent };
