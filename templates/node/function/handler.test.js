'use strict';
// Runs in the image build with `node --test` (node:test, node:assert; no dependencies needed):
// a failing test fails the build (--build-arg TEST_ENABLED=false skips it).
const test = require('node:test');
const assert = require('node:assert');
const handler = require('./handler');

// A stand-in for the template's context: records what the handler answers.
function fakeContext() {
  const context = {
    statusCode: 200,
    headerValues: {},
    answer: undefined,
    status(code) { this.statusCode = code; return this; },
    headers(values) { this.headerValues = values; return this; },
    succeed(value) { this.answer = value; },
    fail(error) { this.statusCode = 500; this.answer = error; },
  };
  return context;
}

test('answers with the request body', async () => {
  const context = fakeContext();
  const event = { body: 'hi', headers: {}, method: 'POST', query: {}, path: '/' };
  await handler(event, context);
  assert.strictEqual(context.statusCode, 200);
  assert.strictEqual(context.answer, 'Hello from node! You said: hi');
});

test('shows a JSON body as JSON', async () => {
  const context = fakeContext();
  await handler({ body: { a: 1 }, headers: {}, method: 'POST', query: {}, path: '/' }, context);
  assert.strictEqual(context.answer, 'Hello from node! You said: {"a":1}');
});
