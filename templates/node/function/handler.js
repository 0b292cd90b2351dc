'use strict';

// Answers a request to the function.
//   event:   body (parsed JSON for application/json, else a string), headers, method, query, path
//   context: status(n).headers({...}).succeed(value) or .fail(error); or just return the value.
module.exports = async (event, context) => {
  const said = typeof event.body === 'string' ? event.body : JSON.stringify(event.body);
  return context
    .status(200)
    .headers({ 'Content-Type': 'text/plain; charset=utf-8' })
    .succeed(`Hello from node! You said: ${said}`);
};
